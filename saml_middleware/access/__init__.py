"""Who may reach what once signed in: rules over groups, roles, e-mails, domains and paths.

:class:`AccessPolicy` is built once per :class:`~saml_middleware.gate.Gate` (so per connection)
from ``SAML_ALLOWED_GROUPS``, ``SAML_ALLOWED_ROLES`` and the ``SAML_ACCESS_RULES`` file, and
answers :meth:`AccessPolicy.decide` with a :class:`Decision`. See docs/access.md.
"""

from .patterns import match_keys
from .policy import ALLOW, OVERRIDE_HEADERS, AccessPolicy, Decision, overrides_in
from .rules import Rule, load_rules, parse_rules

__all__ = [
    "ALLOW",
    "OVERRIDE_HEADERS",
    "AccessPolicy",
    "Decision",
    "Rule",
    "load_rules",
    "match_keys",
    "overrides_in",
    "parse_rules",
]
