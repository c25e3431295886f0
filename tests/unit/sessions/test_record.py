"""Server session records (sessions/record.py) and the claims a session keeps (sessions/overflow.py)."""

from __future__ import annotations

import json
import zlib

import pytest

from saml_middleware import Settings
from saml_middleware.cli import _dev_idp, _parser
from saml_middleware.devidp import DEFAULT_USERS, with_groups
from saml_middleware.protocol.identity import ENTRA_ALIASES
from saml_middleware.sessions.overflow import ClaimFilter, overflow_policy
from saml_middleware.sessions.record import decode_record, encode_record, pack_attributes
from saml_middleware.sessions.session import Session
from saml_middleware.user import SAMLUser

GROUPS = ENTRA_ALIASES["groups"]


def entra_user(groups: int = 150) -> SAMLUser:
    """A user as the identity reader builds one: claim URIs, then aliases sharing their lists."""
    person = with_groups(DEFAULT_USERS[:1], groups)[0]
    attributes: dict[str, list[str]] = {
        GROUPS: list(person.groups),
        ENTRA_ALIASES["object_id"]: [person.object_id],
        ENTRA_ALIASES["given_name"]: [person.given_name],
        ENTRA_ALIASES["tenant_id"]: ["d7e6c5b4-a3f2-4e1d-9c0b-a1b2c3d4e5f6"],
    }
    for alias, claim in ENTRA_ALIASES.items():
        if claim in attributes:
            attributes[alias] = attributes[claim]
    attributes["department"] = [person.given_name]  # equal values under an unrelated name
    return SAMLUser(
        person.email, person.email, "B.Simon", attributes, "_s1", connection="acme", tenant="Acme"
    )


def old_record(session: Session) -> bytes:
    """What earlier versions stored: plain JSON, every list under each of its names."""
    data = {"u": session.user.to_dict(), "t": session.issued, "s": session.seen, "l": session.logout_token}
    return json.dumps(data, separators=(",", ":")).encode()


def test_a_record_keeps_every_name_and_value_but_stores_each_list_once() -> None:
    session = Session("sid", entra_user(), 1000.0, 1060.0, "tok", stored=True)
    record = encode_record(session)
    assert record.startswith(b"v2:")
    stored = json.loads(zlib.decompress(record[3:]))["u"]["attributes"]
    assert stored["groups"] == GROUPS and stored["department"] == ENTRA_ALIASES["given_name"]
    assert sum(1 for v in stored.values() if isinstance(v, list) and len(v) == 151) == 1
    back = decode_record("sid", record)
    assert back == session
    assert list(back.user.attributes) == list(session.user.attributes)  # the order too


def test_records_of_earlier_versions_are_still_read() -> None:
    session = Session("sid", entra_user(3), 1000.0, 1060.0, "tok", stored=True)
    assert decode_record("sid", old_record(session)) == session


def test_a_record_with_150_groups_is_under_a_third_of_the_old_size() -> None:
    session = Session("sid", entra_user(), 1000.0, 1060.0, "tok")
    old, new = len(old_record(session)), len(encode_record(session))
    assert old > 12_000 and new < old / 3


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"v2:not zlib",
        b"v2:" + zlib.compress(b"[1, 2]"),
        b"v2:"
        + zlib.compress(
            b'{"u": {"email": "a@b.c", "attributes": {"alias": "missing"}}, "t": 1, "s": 1, "l": ""}'
        ),
        b"v2:" + zlib.compress(b" " * (9 * 1024 * 1024)),  # larger than any record: refused unread
        b"{not json",
        b"\xff\xfe",
    ],
)
def test_an_unreadable_record_is_no_session(record: bytes) -> None:
    assert decode_record("sid", record) is None


def test_pack_keeps_empty_and_distinct_lists_as_they_are() -> None:
    assert pack_attributes({"a": [], "b": [], "c": ["x"], "d": ["x", "y"]}) == {
        "a": [],
        "b": [],
        "c": ["x"],
        "d": ["x", "y"],
    }


def _settings(**values: object) -> Settings:
    return Settings(base_url="https://app.example.com", secret_key=("k" * 32,), **values)  # type: ignore[arg-type]


def test_session_claims_keep_aliases_with_their_claims_and_what_the_middleware_reads() -> None:
    user = entra_user()
    kept = ClaimFilter(_settings(session_claims=("object_id", GROUPS)))(user)
    assert sorted(kept.attributes) == sorted([GROUPS, "groups", ENTRA_ALIASES["object_id"], "object_id"])
    assert kept.email == user.email and kept.connection == "acme" and kept.tenant == "Acme"
    assert kept.session_index == "_s1"
    needed = ClaimFilter(_settings(session_claims=("tenant_id",), user_id_attribute="object_id"))(user)
    assert "object_id" in needed.attributes and "groups" not in needed.attributes
    with_rules = ClaimFilter(_settings(session_claims=("tenant_id",), allowed_groups=("g",)))(user)
    assert "groups" in with_rules.attributes  # access rules read the groups on every request
    assert ClaimFilter(_settings())(user) is user  # unset: every attribute


def test_overflow_policy_and_its_validation() -> None:
    assert overflow_policy(_settings()) == "refuse"
    assert overflow_policy(_settings(store_url="rediss://r:6380/0")) == "server"
    assert overflow_policy(_settings(session_overflow="trim", store_url="redis://r/0")) == "trim"
    with pytest.raises(Exception, match="SAML_SESSION_OVERFLOW must be auto, server, refuse or trim"):
        _settings(session_overflow="drop")
    assert Settings.from_env(
        {
            "SAML_BASE_URL": "https://a.example.com",
            "SAML_SECRET_KEY": "k" * 32,
            "SAML_SESSION_CLAIMS": "roles, groups",
        }
    ).session_claims == ("roles", "groups")


def test_dev_idp_groups_option_gives_every_user_more_groups() -> None:
    args = _parser().parse_args(["dev-idp", "--groups", "150"])
    idp = _dev_idp(args)
    assert [len(u.groups) for u in idp.users] == [len(u.groups) + 150 for u in DEFAULT_USERS]
    assert len({g for u in idp.users for g in u.groups}) > 150
