"""``saml-middleware check``: the access rules as understood, and which rule decides for a user.

.. code-block:: console

    $ saml-middleware check --user b.simon@contoso.com --groups Finance --path /reports/q1
"""

from __future__ import annotations

import argparse
import time

from ..access import AccessPolicy
from ..config import Settings
from ..paths import BadPath, canonical_path, decoded_path
from ..user import GROUPS_CLAIM, ROLES_CLAIM, SAMLUser

__all__ = ["access_options", "print_access"]


def access_options(check: argparse.ArgumentParser) -> None:
    """The ``check`` options that ask the access rules about one user and request."""
    check.add_argument("--user", metavar="EMAIL", help="with --path: which access rule decides for this user")
    check.add_argument("--groups", default="", metavar="G1,G2", help="the user's groups (ids or names)")
    check.add_argument("--roles", default="", metavar="R1,R2", help="the user's app roles")
    check.add_argument("--path", default="/", help="the request path (default /)")
    check.add_argument("--method", default="GET", help="the request method (default GET)")
    check.add_argument(
        "--auth-age",
        type=int,
        default=0,
        metavar="SECONDS",
        help="seconds since the IdP authenticated the user",
    )


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def print_access(settings: Settings, policy: AccessPolicy, args: argparse.Namespace) -> None:
    """Print the rules (first match wins) and, with ``--user``, the decision for that request."""
    default = policy.default
    if not policy.active:
        print("\nAccess: every signed-in user reaches every path")
        print("  (no SAML_ALLOWED_GROUPS, SAML_ALLOWED_ROLES or SAML_ACCESS_RULES)")
    else:
        if policy.rules:
            print(f"\nAccess rules ({settings.access_rules}), first match wins:")
            for rule in policy.rules:
                print(f"  {rule.describe()}")
        print(f"\nWhere no rule matches ({default.label}): {default.needs}")
    email = getattr(args, "user", None)
    if not email:
        return
    try:
        path = decoded_path(canonical_path(args.path.split("?", 1)[0], encoded_separators=True))
    except BadPath as exc:
        print(f"\n{args.method.upper()} {args.path}: refused before any rule ({exc.reason}: {exc.detail})")
        return
    now = time.time()
    attributes = {GROUPS_CLAIM: _csv(args.groups), ROLES_CLAIM: _csv(args.roles)}
    user = SAMLUser(email, email, attributes=attributes, authn_instant=now - args.auth_age)
    print(f"\n{args.method.upper()} {path} for {email}")
    print(f"  groups: {', '.join(user.groups) or '-'}; roles: {', '.join(user.roles) or '-'}")
    verdict = policy.decide(args.method, path, user, now)
    for key, rule, decision in policy.explain(args.method, path, user, now):
        which = f"{rule.label} decides" if rule.index else f"no rule matches: {rule.label} decide"
        result = "may pass" if decision.allowed else f"refused ({decision.reason}): {decision.needs}"
        print(f"  path {key}: {which}: {result}")
    print(f"  => {'allowed' if verdict.allowed else 'refused: ' + verdict.reason}")
