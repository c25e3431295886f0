"""Access rules: the ``SAML_ACCESS_RULES`` file (TOML) read into :class:`Rule` records.

.. code-block:: toml

    [[rule]]
    name = "admins"                 # optional, shown in refusals and the audit log
    path = "/admin"                 # a prefix or a glob (patterns.py)
    methods = ["POST", "DELETE"]    # optional; default every method
    groups = ["5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01", "Finance-Admins"]
    roles = ["Admin"]
    emails = ["boss@contoso.com"]
    domains = ["contoso.com"]
    max_auth_age = 900              # optional: seconds since the IdP authenticated the user

A user passes a rule when any one of its ``groups``, ``roles``, ``emails`` or ``domains``
admits them (``anyone = true``: every signed-in user). Every problem of the file is reported at
once, each with its rule number and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tomllib

from ..errors import ConfigError
from ..user import XML_SPACE, SAMLUser, normalize_email
from .patterns import Pattern, compile_pattern, lower_ascii

__all__ = ["Rule", "load_rules", "parse_rules"]

_GUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\Z")
_METHOD = re.compile(r"[A-Za-z]{1,20}\Z")
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.MULTILINE)
_KEYS = ("name", "path", "methods", "groups", "roles", "emails", "domains", "anyone", "max_auth_age")
_WHO = ("groups", "roles", "emails", "domains")


def group_key(group: str) -> str:
    """How groups compare: object ids (GUIDs) in any case, names exactly."""
    return lower_ascii(group) if len(group) == 36 and _GUID.match(group) else group


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule (or, with ``index`` 0, the global ``SAML_ALLOWED_GROUPS`` / ``SAML_ALLOWED_ROLES``).

    :param path: the pattern as written; ``pattern`` is it compiled.
    :param methods: upper-case methods it applies to; ``None``: every method.
    :param groups: group object ids or names (as written, for messages).
    :param anyone: every signed-in user passes (only ``max_auth_age`` may still apply).
    :param max_auth_age: seconds since the IdP authenticated the user (``AuthnInstant``).
    :param index: 1-based position in the file; ``line`` its ``[[rule]]`` line.
    """

    path: str
    pattern: Pattern | None = None
    methods: frozenset[str] | None = None
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    anyone: bool = False
    max_auth_age: int | None = None
    name: str = ""
    index: int = 0
    line: int | None = None
    _groups: frozenset[str] = field(init=False, repr=False, default=frozenset())
    _guids: frozenset[str] = field(init=False, repr=False, default=frozenset())
    _roles: frozenset[str] = field(init=False, repr=False, default=frozenset())
    _emails: frozenset[str] = field(init=False, repr=False, default=frozenset())
    _domains: frozenset[str] = field(init=False, repr=False, default=frozenset())

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "_groups", frozenset(self.groups) | {group_key(g) for g in self.groups})
        set_(
            self,
            "_guids",
            frozenset(group_key(g) for g in self.groups if group_key(g) != g or _GUID.match(g)),
        )
        set_(self, "_roles", frozenset(self.roles))
        set_(self, "_emails", frozenset(normalize_email(e) for e in self.emails))
        set_(self, "_domains", frozenset(normalize_email(d.lstrip("@")) for d in self.domains))

    @property
    def label(self) -> str:
        """How refusals and the audit log name the rule."""
        if self.index == 0:
            return "SAML_ALLOWED_GROUPS/SAML_ALLOWED_ROLES"
        return self.name or f"rule {self.index} ({self.path})"

    @property
    def needs(self) -> str:
        """What a user must have, in words: ``needs group Finance-Admins``, ``needs one of: ...``."""
        if self.anyone:
            return "needs a recent sign-in" if self.max_auth_age else "anyone signed in"
        kinds = (("group", self.groups), ("role", self.roles), ("e-mail", self.emails))
        items = [f"{kind} {value}" for kind, values in kinds for value in values]
        items += [f"an e-mail address at {d}" for d in self.domains]
        return "needs " + items[0] if len(items) == 1 else "needs one of: " + ", ".join(items)

    def admits(self, user: SAMLUser) -> bool:
        """Does ``user`` pass who-may-pass (not ``max_auth_age``)?"""
        if self.anyone:
            return True
        if self._groups:
            groups = user.groups
            if not self._groups.isdisjoint(groups):
                return True
            if self._guids and any(g.lower() in self._guids for g in groups if len(g) == 36):
                return True
        if self._roles and not self._roles.isdisjoint(user.roles):
            return True
        if self._emails or self._domains:
            email = user.email
            email = email.strip(XML_SPACE).lower() if email.isascii() else normalize_email(email)
            return email in self._emails or email.rsplit("@", 1)[-1] in self._domains
        return False

    def describe(self) -> str:
        """One line for ``saml-middleware check``."""
        kind = "glob" if self.pattern is not None and self.pattern.glob else "prefix"
        methods = ",".join(sorted(self.methods)) if self.methods else "any method"
        age = f"; max_auth_age {self.max_auth_age}s" if self.max_auth_age else ""
        where = f" (line {self.line})" if self.line else ""
        return f"{self.index}. {self.path} [{kind}, {methods}]: {self.needs}{age}{where}"


def _strings(value: Any, what: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{what} must be a list of non-empty strings")
        return ()
    return tuple(v.strip() for v in value)


def _rule(index: int, line: int | None, data: Any, problems: list[str]) -> Rule | None:
    where = f"rule {index}" + (f" (line {line})" if line else "")
    mine: list[str] = []
    if not isinstance(data, Mapping):
        problems.append(f"{where}: must be a table ([[rule]])")
        return None
    mine += [f"unknown key {k!r} (known: {', '.join(_KEYS)})" for k in data if k not in _KEYS]
    path, pattern = data.get("path"), None
    if not isinstance(path, str):
        mine.append('needs a path (a string such as "/admin")')
    else:
        pattern, bad = compile_pattern(path)
        mine += [f"path {path!r} {p}" for p in bad]
    methods = None
    if "methods" in data:
        listed = _strings(data["methods"], "methods", mine)
        mine += [f"method {m!r} is not an HTTP method name" for m in listed if not _METHOD.match(m)]
        methods = frozenset(m.upper() for m in listed) or None
    who = {k: _strings(data[k], k, mine) if k in data else () for k in _WHO}
    mine += [f"e-mail {e!r} has no '@'" for e in who["emails"] if "@" not in e]
    mine += [f"domain {d!r} must be a domain, not an e-mail" for d in who["domains"] if "@" in d.lstrip("@")]
    anyone = data.get("anyone", False)
    if not isinstance(anyone, bool):
        mine.append("anyone must be true or false")
    elif anyone and any(who.values()):
        mine.append("anyone = true cannot be combined with groups, roles, emails or domains")
    elif not anyone and not any(who.values()):
        mine.append("names nobody who may pass: give groups, roles, emails or domains, or anyone = true")
    age = data.get("max_auth_age")
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or age <= 0):
        mine.append("max_auth_age must be a positive whole number of seconds")
    name = data.get("name", "")
    if not isinstance(name, str):
        mine.append("name must be a string")
    problems.extend(f"{where}: {p}" for p in mine)
    if mine:
        return None
    return Rule(
        path=str(path), pattern=pattern, methods=methods, anyone=bool(anyone), max_auth_age=age,
        name=str(name), index=index, line=line, **who,
    )  # fmt: skip


def parse_rules(data: Mapping[str, Any], lines: Iterable[int] = ()) -> tuple[Rule, ...]:
    """Rules from parsed TOML ``data`` (``{"rule": [...]}``); ``lines``: each rule's line number.

    :raises ConfigError: listing every problem.
    """
    problems = [f"unknown top-level key {k!r} (rules are [[rule]] tables)" for k in data if k != "rule"]
    items = data.get("rule", [])
    if not isinstance(items, list):
        problems.append("rule must be an array of tables ([[rule]])")
        items = []
    numbers = list(lines)
    rules: list[Rule] = []
    for i, item in enumerate(items, 1):
        rule = _rule(i, numbers[i - 1] if i <= len(numbers) else None, item, problems)
        if rule is not None:
            rules.append(rule)
    catch_all = next((r for r in rules if r.path.strip("/") == "" and r.methods is None), None)
    if catch_all is not None and catch_all is not rules[-1]:
        problems.append(
            f"rule {catch_all.index}: path '/' for every method matches every request, "
            "so the rules after it never apply (put it last)"
        )
    if problems:
        raise ConfigError(f"SAML_ACCESS_RULES: {p}" for p in problems)
    return tuple(rules)


def load_rules(path: str) -> tuple[Rule, ...]:
    """The rules of the TOML file at ``path``.

    :raises ConfigError: the file cannot be read, is not TOML, or has any problem (all listed).
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError([f"SAML_ACCESS_RULES: cannot read {path!r}: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"SAML_ACCESS_RULES: {path!r} is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"SAML_ACCESS_RULES: {path!r} is not valid TOML: {exc}"]) from None
    lines = [text.count("\n", 0, m.start()) + 1 for m in _HEADER.finditer(text)]
    return parse_rules(data, lines)
