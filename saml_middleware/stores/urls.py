"""``SAML_STORE_URL`` parsed once, for the app and every command: :func:`parse_store_url`.

The forms (docs/configuration.md "SAML_STORE_URL"):

* ``memory://`` - one process.
* ``redis://[[user]:password@]host[:6379][/db]``, ``rediss://...`` (TLS).
* ``unix://[[user]:password@]/path/redis.sock[?db=0]``.
* ``redis+sentinel://[[user]:password@]host:26379,host2:26379/service[/db]``
  (``rediss+sentinel://`` for TLS): the master named ``service`` is found through the sentinels.
* ``redis+cluster://[[user]:password@]host:7000,host2:7001`` (``rediss+cluster://``): any node.
* ``python:module:factory`` - a factory returning a replay cache and a session store.

**Credentials.** The user and password run from ``//`` to the *last* ``@`` of the URL, so a
password may hold ``/``, ``#``, ``?``, ``@`` or ``:`` as typed; user and password are split at
the first ``:`` and each is percent-decoded, so ``%2F`` is ``/`` as well. A literal ``%``
followed by two hex digits must be written ``%25``. Option values never contain ``@``
(write ``%40``). The URL is never shown with its password (:attr:`StoreURL.shown`).

**Options** go in the query; an unknown one is a :class:`~saml_middleware.errors.ConfigError`
(they used to reach the connection and fail every login instead).

>>> u = parse_store_url("redis+sentinel://:p/w#1@s1:26379,s2/mymaster/2?socket_timeout=1")
>>> u.scheme, u.hosts, u.service, u.db, u.password, u.shown
('redis+sentinel', (('s1', 26379), ('s2', 26379)), 'mymaster', 2, 'p/w#1', 'redis+sentinel://:***@s1:26379,s2:26379/mymaster/2')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote

from ..configrules import STORE_SCHEMES
from ..errors import ConfigError
from ..masking import MASK

__all__ = ["OPTIONS", "SCHEMES", "StoreURL", "parse_store_url"]

#: every scheme ``SAML_STORE_URL`` accepts (``python:`` has no ``//``); one list, also read by
#: the settings check (configrules.py)
SCHEMES = STORE_SCHEMES
_DEFAULT_PORT = {"redis+sentinel": 26379, "rediss+sentinel": 26379}
_TLS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password")
_COMMON = ("socket_timeout", "socket_connect_timeout", "health_check_interval", "client_name")
_REPLICAS = ("wait_replicas", "wait_timeout")
#: the query options each scheme accepts (anything else is refused at start-up)
OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "memory": frozenset(),
        "python": frozenset(),
        "redis": frozenset((*_COMMON, *_REPLICAS, "db")),
        "rediss": frozenset((*_COMMON, *_REPLICAS, *_TLS, "db", "ssl_check_hostname")),
        "unix": frozenset((*_COMMON, *_REPLICAS, "db")),
        "redis+sentinel": frozenset((*_COMMON, *_REPLICAS, "sentinel_username", "sentinel_password")),
        "rediss+sentinel": frozenset(
            (*_COMMON, *_REPLICAS, *_TLS, "ssl_check_hostname", "sentinel_username", "sentinel_password")
        ),
        "redis+cluster": frozenset(_COMMON),
        "rediss+cluster": frozenset((*_COMMON, *_TLS, "ssl_check_hostname")),
    }
)
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>[^:]*))?$")
_FORMS = (
    "memory://, redis[s]://[:PASSWORD@]HOST[:PORT][/DB], unix:///PATH/redis.sock, "
    "redis[s]+sentinel://HOST:PORT,HOST:PORT/SERVICE[/DB], redis[s]+cluster://HOST:PORT[,HOST:PORT] "
    "or python:module:factory"
)


@dataclass(frozen=True)
class StoreURL:
    """One parsed ``SAML_STORE_URL``.

    :ivar scheme: one of :data:`SCHEMES`.
    :ivar hosts: ``(host, port)`` pairs (one for ``redis``; the sentinels; the cluster seeds).
    :ivar path: the socket path (``unix``).
    :ivar service: the Sentinel master name.
    :ivar factory: ``module:function`` (``python``).
    :ivar options: the query options, validated against :data:`OPTIONS`.
    :ivar shown: the URL rebuilt without its password, safe for messages and logs.
    """

    scheme: str
    shown: str
    hosts: tuple[tuple[str, int], ...] = ()
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    db: int = 0
    path: str = ""
    service: str = ""
    factory: str = ""
    options: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def tls(self) -> bool:
        return self.scheme.startswith("rediss")


def _refuse(shown: str, why: str) -> ConfigError:
    return ConfigError([f"SAML_STORE_URL={shown!r}: {why}"])


def _hosts(text: str, scheme: str, shown: str) -> tuple[tuple[str, int], ...]:
    out = []
    for part in text.split(","):
        match = _HOST.match(part.strip())
        if match is None:
            raise _refuse(shown, f"{part.strip()!r} is not HOST[:PORT]")
        port_text = match["port"]
        if port_text is not None and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            raise _refuse(shown, f"the port of {part.strip()!r} is not a number from 1 to 65535")
        host = match["v6"] or match["name"]
        out.append((host, int(port_text) if port_text else _DEFAULT_PORT.get(scheme, 6379)))
    if not out:
        raise _refuse(shown, "no host")
    return tuple(out)


def _db(text: str, shown: str) -> int:
    if not text.isdigit():
        raise _refuse(shown, f"the database {text!r} is not a number")
    return int(text)


def _shown(scheme: str, userinfo: str | None, rest: str) -> str:
    if userinfo is None:
        return f"{scheme}://{rest}"
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:{MASK}@{rest}" if colon else f"{scheme}://{MASK}@{rest}"


def parse_store_url(url: str) -> StoreURL:
    """Parse and validate ``SAML_STORE_URL``; the rules are in the module docstring.

    :raises ConfigError: an unknown scheme or option, a bad host, port, database or
        service name; the message shows the URL without its password.
    """
    scheme, sep, rest = url.partition(":")
    if scheme == "python":
        if rest.count(":") != 1 or not all(rest.split(":")):
            raise _refuse(url, "use python:module:factory")
        return StoreURL("python", url, factory=rest)
    if scheme not in SCHEMES or not rest.startswith("//"):
        head = _split_userinfo(rest[2:])
        masked = (
            _shown(scheme, head[0], head[1].split("?")[0]) if rest.startswith("//") else scheme + sep + "..."
        )
        raise _refuse(masked, f"use {_FORMS}")
    userinfo, after = _split_userinfo(rest[2:])
    username = password = None
    if userinfo is not None:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
        if not colon:  # redis-py's rule: a lone user part is the password
            username, password = None, unquote(user)
    location, _, query = after.partition("?")
    shown = _shown(scheme, userinfo, location)
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - OPTIONS[scheme])
    if unknown:
        known = ", ".join(sorted(OPTIONS[scheme])) or "none"
        raise _refuse(shown, f"unknown option {', '.join(unknown)} for {scheme}:// (known: {known})")
    if scheme == "memory":
        return StoreURL("memory", shown)
    db = _db(options.pop("db"), shown) if "db" in options else 0
    if scheme == "unix":
        if not location.startswith("/"):
            raise _refuse(shown, "use unix:///absolute/path/redis.sock")
        return StoreURL(scheme, shown, (), username, password, db, path=unquote(location), options=options)
    netloc, _, path = location.partition("/")
    hosts = _hosts(netloc, scheme, shown)
    shown = _shown(
        scheme, userinfo, ",".join(f"{_bracket(h)}:{p}" for h, p in hosts) + ("/" + path if path else "")
    )
    segments = [s for s in path.split("/") if s]
    service = ""
    if "sentinel" in scheme:
        if not segments:
            raise _refuse(shown, "name the master: redis+sentinel://HOST:26379,.../SERVICE[/DB]")
        service, segments = unquote(segments[0]), segments[1:]
    elif len(hosts) > 1 and "cluster" not in scheme:
        raise _refuse(shown, "one host only (several hosts: redis+sentinel:// or redis+cluster://)")
    if len(segments) > 1:
        raise _refuse(shown, f"unexpected path /{path}")
    if segments:
        db = _db(segments[0], shown)
    if "cluster" in scheme and db != 0:
        raise _refuse(shown, "Redis Cluster has database 0 only")
    return StoreURL(scheme, shown, hosts, username, password, db, service=service, options=options)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _split_userinfo(text: str) -> tuple[str | None, str]:
    """``(userinfo, rest)``: the userinfo runs to the last ``@``."""
    userinfo, at, after = text.rpartition("@")
    return (userinfo, after) if at else (None, text)
