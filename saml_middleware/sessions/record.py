"""The bytes a server-side session is stored as: each value once, compressed, versioned.

Entra names every claim twice in :attr:`SAMLUser.attributes <saml_middleware.user.SAMLUser.attributes>`:
by its URI and by a short alias (``groups`` beside
``http://schemas.microsoft.com/ws/2008/06/identity/claims/groups``). A record keeps the values
under the first name only and writes the others as a reference to it (a string where a list
would be), so 150 group ids are stored once; zlib then compresses the JSON.

* version 2 (written): ``b"v2:"`` + ``zlib(JSON)``, attributes packed as above;
* version 1 (read only): the JSON object itself (``b"{..."``), as earlier versions wrote it.

>>> from saml_middleware.sessions.session import Session
>>> from saml_middleware.user import SAMLUser
>>> groups = ["5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"]
>>> claims = {"http://x/groups": groups, "groups": groups}
>>> user = SAMLUser("a@example.com", "a@example.com", attributes=claims)
>>> record = encode_record(Session("sid", user, 1.0, 2.0, "tok"))
>>> record[:3], decode_record("sid", record) == Session("sid", user, 1.0, 2.0, "tok", stored=True)
(b'v2:', True)
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from .session import Session, session_from

__all__ = ["MAX_RECORD_BYTES", "decode_record", "encode_record", "pack_attributes", "unpack_attributes"]

_V2 = b"v2:"
#: a decompressed record larger than this is refused as corrupt (no record is near it)
MAX_RECORD_BYTES = 8 * 1024 * 1024


def pack_attributes(attributes: Mapping[str, list[str]]) -> dict[str, list[str] | str]:
    """``attributes`` with each list of values kept once: a later name holding the same values
    becomes the earlier name (a string), in the original order.

    >>> pack_attributes({"http://x/groups": ["g1", "g2"], "groups": ["g1", "g2"], "c": []})
    {'http://x/groups': ['g1', 'g2'], 'groups': 'http://x/groups', 'c': []}
    """
    first: dict[tuple[str, ...], str] = {}
    packed: dict[str, list[str] | str] = {}
    for name, values in attributes.items():
        key = tuple(values)
        if key and key in first:
            packed[name] = first[key]
        else:
            first.setdefault(key, name)
            packed[name] = list(values)
    return packed


def unpack_attributes(packed: Mapping[str, Any]) -> dict[str, list[str]]:
    """The attributes :func:`pack_attributes` packed, every name back with its values.

    :raises ValueError: a reference to a name that is not (yet) there.
    """
    attributes: dict[str, list[str]] = {}
    for name, values in packed.items():
        if isinstance(values, str):
            if values not in attributes:
                raise ValueError(f"attribute {name!r} refers to unknown {values!r}")
            attributes[str(name)] = attributes[values]
        else:
            attributes[str(name)] = [str(v) for v in values]
    return attributes


def encode_record(session: Session) -> bytes:
    """The version-2 record of ``session`` (the id stays outside: it is the key)."""
    user = session.user.to_dict()
    user["attributes"] = pack_attributes(session.user.attributes)
    data = {"u": user, "t": session.issued, "s": session.seen, "l": session.logout_token}
    return _V2 + zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"))


def decode_record(sid: str, record: bytes) -> Session | None:
    """The session in a record of any version, or ``None`` when it is unreadable."""
    try:
        if record.startswith(_V2):
            inflate = zlib.decompressobj()
            text = inflate.decompress(record[len(_V2) :], MAX_RECORD_BYTES)
            if inflate.unconsumed_tail:
                return None
            data = json.loads(text)
            data["u"]["attributes"] = unpack_attributes(data["u"].get("attributes", {}))
        elif record.startswith(b"{"):
            data = json.loads(record)
        else:
            return None
    except (TypeError, ValueError, KeyError, AttributeError, zlib.error):
        return None
    session = session_from(data, sid)
    return None if session is None else _stored(session)


def _stored(session: Session) -> Session:
    return Session(session.sid, session.user, session.issued, session.seen, session.logout_token, stored=True)
