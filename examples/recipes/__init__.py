"""Code the recipes in docs/recipes/ point ``SAML_*`` settings at."""
