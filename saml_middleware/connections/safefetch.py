"""Fetching a metadata URL a customer typed in, without letting it reach inside the network (SSRF).

A setup page takes the "App Federation Metadata Url" from whoever holds the setup
link, so the server must not become their way into the operator's network; every later
fetch of a connection's metadata URL (its gate's first load, each refresh) goes through
here too, so a name that resolves elsewhere since it was saved (DNS rebinding) is caught. The URL
must be ``https``; its host is resolved once and **every** address it resolves to must
be a public one (no loopback, private, link-local - the cloud metadata service at
169.254.169.254 -, shared, multicast, reserved or unspecified address, IPv4-mapped
forms included), unless the operator allows private addresses
(``SAML_SETUP_ALLOW_PRIVATE_METADATA=true``, for an IdP on the LAN; link-local stays
refused). The connection
then goes to the vetted address (no second lookup an attacker's DNS could answer
differently), TLS is verified against the host name, the answer is capped in size and
time, and redirects (at most three) are vetted the same way.

>>> vet_address("10.0.0.5", allow_private=False)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
saml_middleware.connections.safefetch.FetchRefused: 10.0.0.5 is a private address: only public ...
>>> vet_address("10.0.0.5", allow_private=True)
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["MAX_METADATA_BYTES", "FetchRefused", "fetch_public_metadata", "vet_address"]

#: the largest metadata document read (Entra's is about 5 KB; big aggregates are not IdPs)
MAX_METADATA_BYTES = 2 * 1024 * 1024
_REDIRECTS = 3
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class FetchRefused(ValueError):
    """The URL is not fetched, or its answer is not used; the message says why (fit for a page)."""


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What makes ``ip`` non-public, or ``None`` for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)
    for attribute, kind in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attribute):
            return kind
    return None if ip.is_global else "non-public"


def vet_address(address: str, *, allow_private: bool) -> None:
    """Refuse ``address`` unless it is public (or private addresses are allowed).

    Link-local (the cloud metadata service), multicast, unspecified and reserved addresses
    are refused even when private ones are allowed: no IdP lives there.

    :raises FetchRefused: naming the kind of address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    kind = _kind(ip)
    if kind is None or (allow_private and kind in ("loopback", "private", "non-public")):
        return
    raise FetchRefused(f"{address} is a {kind} address: only public https addresses are fetched")


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to ``host`` (SNI, certificate check, ``Host`` header) over a socket to ``address``."""

    def __init__(self, host: str, address: str, port: int, *, context: ssl.SSLContext, timeout: float):
        super().__init__(host, port, context=context, timeout=timeout)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def _vetted(url: str, *, allow_private: bool, resolve: Resolver) -> tuple[str, int, str, str]:
    """``(host, port, address, path+query)`` of an https URL whose every address passed."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise FetchRefused("the metadata URL must start with https://")
    if not parts.hostname or parts.username or parts.password:
        raise FetchRefused("the metadata URL needs a host name (and no user name or password)")
    try:
        port = parts.port or 443
    except ValueError:
        raise FetchRefused("the metadata URL has an invalid port") from None
    try:
        found = resolve(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchRefused(f"the host name {parts.hostname} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise FetchRefused(f"the host name {parts.hostname} does not resolve")
    for address in addresses:  # every one: a name resolving to a public and a private address is refused
        vet_address(address, allow_private=allow_private)
    return (
        parts.hostname,
        port,
        addresses[0],
        (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
    )


def fetch_public_metadata(
    url: str,
    *,
    allow_private: bool = False,
    resolve: Resolver = socket.getaddrinfo,
    context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_METADATA_BYTES,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """GET ``url`` (https, public addresses only, see the module docstring) and return the body.

    :param allow_private: also allow loopback, private and link-local addresses.
    :param resolve: ``getaddrinfo``-shaped name resolution (tests pass their own).
    :param context: TLS settings (default: the system's CA store, host names checked).
    :param timeout: seconds for the whole fetch, redirects included.
    :param max_bytes: the largest answer accepted.
    :raises FetchRefused: the URL, an address, the answer or the connection is refused.
    """
    context = context or ssl.create_default_context()
    deadline = clock() + timeout
    for _ in range(_REDIRECTS + 1):
        host, port, address, target = _vetted(url, allow_private=allow_private, resolve=resolve)
        connection = _PinnedHTTPS(host, address, port, context=context, timeout=timeout)
        try:
            connection.request("GET", target, headers={"Accept": "application/xml, text/xml, */*"})
            answer = connection.getresponse()
            if answer.status in (301, 302, 303, 307, 308) and answer.getheader("location"):
                url = urljoin(url, answer.getheader("location", ""))
                continue
            if answer.status != 200:
                raise FetchRefused(f"the server answered HTTP {answer.status}: copy the whole URL again")
            declared = answer.getheader("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchRefused(f"the metadata is larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            while chunk := answer.read(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchRefused(f"the metadata is larger than {max_bytes} bytes")
                if clock() > deadline:
                    raise FetchRefused(f"the server did not answer within {timeout:.0f} seconds")
                chunks.append(chunk)
            return b"".join(chunks)
        except ssl.SSLError as exc:
            raise FetchRefused(f"TLS failed with {host}: {exc.reason or exc}") from None
        except TimeoutError:
            raise FetchRefused(f"the server did not answer within {timeout:.0f} seconds") from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchRefused(f"cannot fetch from {host}: {type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
    raise FetchRefused(f"more than {_REDIRECTS} redirects")
