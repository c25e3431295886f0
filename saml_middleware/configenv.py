"""Reading ``Settings`` from the environment: ``NAME`` or ``NAME_FILE``, converted by field type.

Kept out of ``config.py``, which validates; this module only reads and converts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import Field
from typing import Any

__all__ = ["csv", "env_values"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env(environ: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """``environ[name]``, or the content of the file named by ``name + "_FILE"``.

    ``SAML_IDP_METADATA_FILE`` is a setting of its own (a path), so
    ``SAML_IDP_METADATA`` takes no ``_FILE`` form.
    """
    if name in environ:
        return environ[name]
    if name == "SAML_IDP_METADATA":
        return None
    path = environ.get(name + "_FILE")
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read().strip()
    except OSError as exc:
        problems.append(f"{name}_FILE: cannot read {path!r}: {exc.strerror}")
        return None
    except UnicodeDecodeError:
        problems.append(f"{name}_FILE: {path!r} is not UTF-8 text (give binary keys as a path instead)")
        return None


def csv(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def env_values(
    fields: Iterable[Field[Any]], environ: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    """The value of each field given as ``SAML_<FIELD>`` (or ``..._FILE``), converted to its type.

    Unreadable or unconvertible values are left out and appended to ``problems``.
    """
    values: dict[str, Any] = {}
    for f in fields:
        name = "SAML_" + f.name.upper()
        raw = _env(environ, name, problems)
        if raw is None:
            continue
        try:
            values[f.name] = _convert(f.name, f.type, raw)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    return values


def _convert(name: str, type_: Any, raw: str) -> Any:
    t = str(type_)
    raw = raw.strip()
    if t == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if t == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
    if name in ("idp_cert", "idp_metadata_cert"):
        return (raw,)
    if t.startswith("tuple"):
        return csv(raw)
    if t.startswith("Mapping"):
        out: dict[str, str] = {}
        for item in csv(raw):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"expected name=claim pairs, got {item!r}")
            out[key.strip()] = value.strip()
        return out
    return raw
