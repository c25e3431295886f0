"""Log lines cannot be forged: control characters are escaped in every line ``run``/``proxy`` print."""

from __future__ import annotations

import logging
import sys

import pytest

from saml_middleware.serve.accesslog import escape_control, escape_message
from saml_middleware.serve.runner import EscapingFormatter, log_config


def _formatter() -> logging.Formatter:
    """The formatter ``run`` and ``proxy`` configure for every handler they print through."""
    options = dict(log_config()["formatters"]["default"])
    assert options.pop("()") == "saml_middleware.serve.runner.EscapingFormatter"
    options.pop("use_colors", None)
    return EscapingFormatter(**options, use_colors=False)


def _record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.LogRecord(
        "saml_middleware", logging.WARNING, __file__, 1, message, args, sys.exc_info() if exc_info else None
    )


@pytest.mark.parametrize("bad", ["\r\n", "\n", "\r", "\x00", "\x1b[31m", "\x85", "\u2028"])
def test_a_record_with_a_control_character_prints_as_one_line(bad: str) -> None:
    line = _formatter().format(_record("user %s", f"a{bad}INFO:     forged"))
    assert len(line.splitlines()) == 1 and "forged" in line
    assert not any(c in line for c in bad if not c.isprintable())


def test_a_traceback_still_follows_its_record() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        text = _formatter().format(_record("failed for %s", "x\r\nforged", exc_info=True))
    assert text.splitlines()[0].endswith("failed for x\\r\\nforged")
    assert "Traceback (most recent call last):" in text and "ValueError: boom" in text


def test_access_log_fields_escape_quotes_and_controls() -> None:
    assert escape_control('/a"b\\c\x7f') == '/a\\"b\\\\c\\x7f'
    assert escape_message('say "hi"\r\n') == 'say "hi"\\r\\n'
