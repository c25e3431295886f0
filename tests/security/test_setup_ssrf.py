"""The setup page's metadata URL cannot reach inside the network: https only, every address the host
resolves to vetted, the vetted address connected to, size and redirects bounded. A real https
server on loopback (allowed only by the operator setting) serves the dev IdP's metadata."""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from saml_middleware.connections.safefetch import (
    FetchRefused,
    fetch_public_metadata,
    vet_address,
)
from saml_middleware.devidp import DevIdP

from ..support.harness import Clock
from ..support.metadataserver import MetadataServer
from ..support.setupflow import SetupSite, csrf_of


@pytest.fixture
def metadata_server(idp: DevIdP, tmp_path: Path) -> Iterator[MetadataServer]:
    server = MetadataServer(idp.metadata_xml(), tmp_path)
    yield server
    server.close()


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fe80::1",
     "100.64.0.1", "224.0.0.1", "0.0.0.0", "240.0.0.1", "::ffff:127.0.0.1", "fc00::1"],
)  # fmt: skip
def test_inside_addresses_are_refused(address: str) -> None:
    with pytest.raises(FetchRefused, match="address"):
        vet_address(address, allow_private=False)


def test_public_addresses_pass_and_the_setting_allows_private_but_not_link_local() -> None:
    for public in ("20.190.128.1", "2603:1006::1"):  # login.microsoftonline.com ranges
        vet_address(public, allow_private=False)
    for private in ("127.0.0.1", "10.0.0.1", "192.168.1.1", "::1", "100.64.0.1"):
        vet_address(private, allow_private=True)
    for never in ("169.254.169.254", "fe80::1", "224.0.0.1", "0.0.0.0"):
        with pytest.raises(FetchRefused):
            vet_address(never, allow_private=True)


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused() -> None:
    def rebinding(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("20.190.128.1", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    with pytest.raises(FetchRefused, match=r"10\.0\.0\.7 is a private address"):
        fetch_public_metadata("https://idp.example/md", resolve=rebinding)


def test_loopback_metadata_fetched_only_with_the_setting(
    metadata_server: MetadataServer, idp: DevIdP
) -> None:
    fetch = functools.partial(fetch_public_metadata, context=metadata_server.trust)
    with pytest.raises(FetchRefused, match="loopback"):
        fetch(metadata_server.url("/md"))
    assert fetch(metadata_server.url("/md"), allow_private=True) == idp.metadata_xml()
    assert fetch(metadata_server.url("/hop"), allow_private=True) == idp.metadata_xml()


def test_answers_and_redirects_are_bounded(metadata_server: MetadataServer) -> None:
    fetch = functools.partial(fetch_public_metadata, context=metadata_server.trust, allow_private=True)
    with pytest.raises(FetchRefused, match="larger than"):
        fetch(metadata_server.url("/big"))
    with pytest.raises(FetchRefused, match="https://"):
        fetch(metadata_server.url("/out"))
    with pytest.raises(FetchRefused, match="HTTP 404"):
        fetch(metadata_server.url("/missing"))
    with pytest.raises(FetchRefused, match="TLS failed"):  # certificates are verified (system CAs)
        fetch_public_metadata(metadata_server.url("/md"), allow_private=True)
    with pytest.raises(FetchRefused, match=r"169\.254\.169\.254 is a link-local address"):  # redirects vetted
        fetch(metadata_server.url("/inside"))


def test_admin_gives_the_metadata_url_and_tests_sign_in(
    metadata_server: MetadataServer, idp: DevIdP, clock: Clock
) -> None:
    fetch = functools.partial(fetch_public_metadata, context=metadata_server.trust, allow_private=True)
    site = SetupSite("asgi", idp, clock, fetch=fetch)
    try:
        page = site.open()
        saved = site.post_idp(csrf=csrf_of(page), source="url", metadata_url=metadata_server.url("/md"))
        assert saved.status_code == 303, saved.text
        acme = site.registry.get("acme")
        assert acme is not None and acme.idp_metadata_url == metadata_server.url("/md")
        result = site.test_sign_in(csrf_of(page))
        assert result.status_code == 200 and "Test sign-in succeeded" in result.text
    finally:
        site.close()
