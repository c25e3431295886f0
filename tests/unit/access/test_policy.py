"""The policy's decisions: who passes each rule kind, first match, methods, overage, step-up."""

from __future__ import annotations

from saml_middleware.access import AccessPolicy, parse_rules
from saml_middleware.user import GROUPS_CLAIM, GROUPS_LINK_CLAIM, ROLES_CLAIM, SAMLUser

GUID = "5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"


def _user(email: str = "b.simon@contoso.com", groups=(), roles=(), instant: float | None = 1000.0, **more):
    attributes = {GROUPS_CLAIM: list(groups), ROLES_CLAIM: list(roles), **more}
    return SAMLUser(email, email, attributes=attributes, authn_instant=instant)


def _policy(*rules: dict, **globals_: tuple[str, ...]) -> AccessPolicy:
    return AccessPolicy(parse_rules({"rule": list(rules)}), **globals_)


def test_groups_guids_in_any_case_names_exactly() -> None:
    policy = _policy({"path": "/", "groups": [GUID.upper(), "Finance-Admins"]})
    assert policy.decide("GET", "/", _user(groups=[GUID]), 0).allowed
    assert policy.decide("GET", "/", _user(groups=["Finance-Admins"]), 0).allowed
    refused = policy.decide("GET", "/", _user(groups=["finance-admins"]), 0)
    assert refused.reason == "forbidden" and refused.rule == "rule 1 (/)"
    assert "group Finance-Admins" in refused.needs


def test_roles_emails_domains() -> None:
    policy = _policy(
        {"path": "/r", "roles": ["Admin"]},
        {"path": "/e", "emails": ["Boss@Contoso.com"]},
        {"path": "/d", "domains": ["@contoso.com"]},
    )
    assert policy.decide("GET", "/r", _user(roles=["Admin"]), 0).allowed
    assert not policy.decide("GET", "/r", _user(roles=["admin"]), 0).allowed
    assert policy.decide("GET", "/e", _user("boss@contoso.com"), 0).allowed
    assert not policy.decide("GET", "/e", _user("bo\u017fs@contoso.com"), 0).allowed  # long s: another user
    assert policy.decide("GET", "/d", _user("x@CONTOSO.com"), 0).allowed
    assert not policy.decide("GET", "/d", _user("x@contoso.com.evil"), 0).allowed


def test_first_match_wins_and_the_globals_apply_only_where_nothing_matches() -> None:
    policy = _policy(
        {"path": "/help", "anyone": True},
        {"path": "/help/admin", "roles": ["Admin"]},
        allowed_groups=("Staff",),
    )
    outsider = _user()
    assert policy.decide("GET", "/help/admin", outsider, 0).allowed  # /help came first
    refused = policy.decide("GET", "/other", outsider, 0)
    assert refused.reason == "forbidden" and refused.rule == "SAML_ALLOWED_GROUPS/SAML_ALLOWED_ROLES"
    assert policy.decide("GET", "/other", _user(groups=["Staff"]), 0).allowed


def test_global_groups_or_roles() -> None:
    policy = AccessPolicy(allowed_groups=("Staff",), allowed_roles=("Reader",))
    assert policy.decide("GET", "/", _user(roles=["Reader"]), 0).allowed
    assert policy.decide("GET", "/", _user(groups=["Staff"]), 0).allowed
    assert not policy.decide("GET", "/", _user(), 0).allowed
    assert AccessPolicy().active is False


def test_methods_head_follows_get_and_overrides_count() -> None:
    policy = _policy({"path": "/x", "methods": ["GET"], "roles": ["R"]}, {"path": "/", "anyone": True})
    user = _user()
    assert not policy.decide("HEAD", "/x", user, 0).allowed
    assert not policy.decide("get", "/x", user, 0).allowed
    assert policy.decide("POST", "/x", user, 0).allowed
    assert not policy.decide("POST", "/x", user, 0, overrides=("get",)).allowed
    head_only = _policy({"path": "/x", "methods": ["HEAD"], "roles": ["R"]}, {"path": "/", "anyone": True})
    assert head_only.decide("GET", "/x", user, 0).allowed  # a HEAD rule says nothing of GET


def test_overage_only_where_groups_decide() -> None:
    policy = _policy({"path": "/g", "groups": ["G"]}, {"path": "/r", "roles": ["R"]})
    big = _user(**{GROUPS_CLAIM: [], GROUPS_LINK_CLAIM: ["https://graph.microsoft.com/..."]})
    assert policy.decide("GET", "/g", big, 0).reason == "groups_overage"
    assert policy.decide("GET", "/r", big, 0).reason == "forbidden"
    assert policy.decide("GET", "/g", _user(), 0).reason == "forbidden"  # no link: simply not a member


def test_step_up_after_who_may_pass() -> None:
    policy = _policy({"path": "/s", "roles": ["R"], "max_auth_age": 600})
    fresh = _user(roles=["R"], instant=1000.0)
    assert policy.decide("GET", "/s", fresh, 1600.0).allowed
    late = policy.decide("GET", "/s", fresh, 1601.0)
    assert late.reason == "step_up_required" and late.max_auth_age == 600
    assert policy.decide("GET", "/s", _user(roles=["R"], instant=None), 0).reason == "step_up_required"
    assert (
        policy.decide("GET", "/s", _user(instant=0.0), 1601.0).reason == "forbidden"
    )  # never a step-up first


def test_lenient_readings_must_pass_too() -> None:
    policy = _policy({"path": "/admin", "roles": ["Admin"]}, {"path": "/", "anyone": True})
    for path in ("//admin", "/admin;x", "/x/../admin", "/ADMIN/"):
        assert policy.decide("GET", path, _user(), 0).reason == "forbidden", path
    assert policy.decide("GET", "//admin", _user(roles=["Admin"]), 0).allowed


def test_explain_names_the_deciding_rule_per_reading() -> None:
    policy = _policy({"path": "/admin", "name": "admins", "roles": ["Admin"]}, {"path": "/", "anyone": True})
    readings = policy.explain("GET", "//admin", _user(), 0)
    assert [(key, rule.label, d.reason) for key, rule, d in readings] == [
        ("//admin", "rule 2 (/)", ""),
        ("/admin", "admins", "forbidden"),
    ]
