"""Security mutation suite: each case mutates a freshly signed response and asserts its refusal."""
