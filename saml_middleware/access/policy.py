"""The access policy: which rule applies to a request, and what it decides for a user.

``__init__`` validates and compiles; :meth:`AccessPolicy.decide` only matches (a dict look-up by
method and first path segment, then one regular expression over the few rules that can apply)
and compares the user's claims with pre-built sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..user import GROUPS_LINK_CLAIM, SAMLUser
from .patterns import lower_ascii, match_keys
from .rules import Rule, load_rules

__all__ = ["ALLOW", "OVERRIDE_HEADERS", "AccessPolicy", "Decision", "overrides_in"]

#: Headers some frameworks take as the real method (a rule holds for them too).
OVERRIDE_HEADERS = ("x-http-method-override", "x-http-method", "x-method-override")
_OVERRIDES = frozenset(h.encode() for h in OVERRIDE_HEADERS)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided for one request.

    :param allowed: the user may pass.
    :param reason: ``""`` when allowed; ``forbidden``, ``groups_overage`` (403) or
        ``step_up_required`` (a fresh sign-in with ForceAuthn is needed).
    :param rule: the label of the deciding rule (its ``name``, ``rule N (/path)``, or the global
        ``SAML_ALLOWED_GROUPS/SAML_ALLOWED_ROLES``).
    :param needs: what is missing, in words (``needs group Finance-Admins``).
    :param max_auth_age: with ``step_up_required``: the rule's ``max_auth_age``.
    """

    allowed: bool
    reason: str = ""
    rule: str = ""
    needs: str = ""
    max_auth_age: int | None = None


#: The one "may pass" decision (no allocation per request).
ALLOW = Decision(True)


class _Settings(Protocol):
    @property
    def access_rules(self) -> str: ...
    @property
    def allowed_groups(self) -> tuple[str, ...]: ...
    @property
    def allowed_roles(self) -> tuple[str, ...]: ...


def overrides_in(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str, ...]:
    """The method-override header values among ASGI ``headers``.

    Names are compared as sent: ASGI servers give them lower-cased, and frameworks (starlette's
    ``Headers``) look them up that way, so a name in another case is no override to them either.
    """
    found: tuple[str, ...] = ()
    for name, value in headers:  # a plain loop: most requests have none
        if name in _OVERRIDES:
            found += (value.decode("latin-1").strip(),)
    return found


_Lookup = tuple["re.Pattern[str] | None", tuple[Rule, ...]]


def _alternation(rules: Sequence[Rule]) -> _Lookup:
    if not rules:
        return None, ()
    source = "|".join(f"({r.pattern.regex})" for r in rules if r.pattern is not None)
    return re.compile(source, re.DOTALL), tuple(rules)


def _table(rules: Sequence[Rule]) -> tuple[dict[str, _Lookup], _Lookup]:
    """Rules by first literal segment (each with the wildcard ones, in file order)."""
    firsts = {r.pattern.first for r in rules if r.pattern is not None and r.pattern.first is not None}
    by_first = {
        f: _alternation([r for r in rules if r.pattern is not None and r.pattern.first in (f, None)])
        for f in firsts
    }
    return by_first, _alternation([r for r in rules if r.pattern is not None and r.pattern.first is None])


def _applies(rule: Rule, method: str) -> bool:
    m = rule.methods
    return m is None or method in m or (method == "HEAD" and "GET" in m)


class AccessPolicy:
    """Who may reach what once signed in.

    :param rules: ordered rules (first match wins), e.g. from :func:`~.rules.load_rules`.
    :param allowed_groups: ``SAML_ALLOWED_GROUPS``: where no rule matches, the user needs one of
        these groups or one of ``allowed_roles``; with neither, anyone signed in passes.
    :param allowed_roles: ``SAML_ALLOWED_ROLES``.

    >>> from saml_middleware.user import SAMLUser
    >>> policy = AccessPolicy(allowed_roles=("Admin",))
    >>> policy.decide("GET", "/", SAMLUser("a@contoso.com", "a@contoso.com"), 0.0).reason
    'forbidden'
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        allowed_groups: Sequence[str] = (),
        allowed_roles: Sequence[str] = (),
    ) -> None:
        self.rules = tuple(rules)
        everyone = not allowed_groups and not allowed_roles
        self.default = Rule("/", groups=tuple(allowed_groups), roles=tuple(allowed_roles), anyone=everyone)
        #: False: every signed-in user passes everywhere (adapters skip the policy)
        self.active = bool(self.rules) or not everyone
        #: some rule names methods: override headers matter
        self.methods_matter = any(r.methods for r in self.rules)
        #: group rules in force (``X-Remote-Groups``: which groups are "in the rules")
        self.rule_groups = frozenset(g for r in (*self.rules, self.default) for g in r.groups)
        methods = {m for r in self.rules if r.methods for m in r.methods} | {"GET", "HEAD"}
        self._tables = {m: _table([r for r in self.rules if _applies(r, m)]) for m in methods}
        self._other = _table([r for r in self.rules if r.methods is None])
        self._refusals = {
            r: (
                Decision(False, "forbidden", r.label, r.needs),
                Decision(
                    False, "groups_overage", r.label, r.needs + " (the IdP sent a groups link, no groups)"
                ),
                Decision(False, "step_up_required", r.label, "needs a recent sign-in", r.max_auth_age),
            )
            for r in (*self.rules, self.default)
        }

    @classmethod
    def from_settings(cls, settings: _Settings) -> AccessPolicy:
        """The policy of ``SAML_ACCESS_RULES``, ``SAML_ALLOWED_GROUPS`` and ``SAML_ALLOWED_ROLES``
        (one per Gate, so per connection). :raises ConfigError: the rules file has problems."""
        rules = load_rules(settings.access_rules) if settings.access_rules else ()
        return cls(rules, settings.allowed_groups, settings.allowed_roles)

    def match(self, method: str, key: str) -> Rule:
        """The first rule for ``method`` (upper case) and ``key`` (see ``match_keys``), else the default."""
        by_first, wild = self._tables.get(method) or self._other
        slash = key.find("/", 1)
        regex, rules = by_first.get(key[1:slash] if slash > 0 else key[1:], wild)
        if regex is not None:
            found = regex.match(key)
            if found is not None and found.lastindex:
                return rules[found.lastindex - 1]
        return self.default

    def judge(self, rule: Rule, user: SAMLUser, now: float) -> Decision:
        """What ``rule`` decides for ``user`` at ``now`` (epoch seconds)."""
        if not rule.admits(user):
            forbidden, overage, _ = self._refusals[rule]
            if rule.groups and not user.groups and GROUPS_LINK_CLAIM in user.attributes:
                return overage
            return forbidden
        age = rule.max_auth_age
        if age is not None and (user.authn_instant is None or now - user.authn_instant > age):
            return self._refusals[rule][2]
        return ALLOW

    def decide(
        self, method: str, path: str, user: SAMLUser, now: float, overrides: Sequence[str] = ()
    ) -> Decision:
        """May ``user`` make this request?

        :param method: the request method (any case: ``get`` is ``GET``; ``HEAD`` obeys GET rules).
        :param path: the decoded canonical path the gate decided on.
        :param now: epoch seconds (for ``max_auth_age``).
        :param overrides: ``X-HTTP-Method-Override``-style header values: the rules for those
            methods must let the request pass too.
        """
        if not self.rules:
            return self.judge(self.default, user, now)
        key = path.lower() if path.isascii() else lower_ascii(path)
        if (overrides and self.methods_matter) or "//" in key or ";" in key or "/." in key or "\\" in key:
            return self._decide_all(method, key, user, now, overrides)
        by_first, wild = self._tables.get(method) or self._tables.get(method.upper()) or self._other
        slash = key.find("/", 1)
        regex, rules = by_first.get(key[1:slash] if slash > 0 else key[1:], wild)
        rule = self.default
        if regex is not None:
            found = regex.match(key)
            if found is not None and found.lastindex:
                rule = rules[found.lastindex - 1]
        return self.judge(rule, user, now)

    def _decide_all(
        self, method: str, key: str, user: SAMLUser, now: float, overrides: Sequence[str]
    ) -> Decision:
        """Every reading of the path, every method: the first refusal, else ALLOW."""
        methods = (
            {method.upper(), *(o.upper() for o in overrides)} if self.methods_matter else {method.upper()}
        )
        for m in methods:
            for k in match_keys(key):
                decision = self.judge(self.match(m, k), user, now)
                if not decision.allowed:
                    return decision
        return ALLOW

    def explain(self, method: str, path: str, user: SAMLUser, now: float) -> list[tuple[str, Rule, Decision]]:
        """For ``check``: each key the path is matched by, the rule that decides it, and the decision."""
        return [
            (key, rule, self.judge(rule, user, now))
            for key in match_keys(path)
            for rule in (self.match(method.upper(), key),)
        ]
