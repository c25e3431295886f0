"""``dev-idp --tenants N``: one dev IdP playing several Entra tenants, each with its own
entity ID, signing key, metadata URL and users, as customers' tenants are."""

from __future__ import annotations

import re

import httpx
import pytest
import xmlsec

from saml_middleware.cli import main
from saml_middleware.devidp.tenants import dev_tenants, tenant_domain

from ..support.asgiclient import asgi_client
from ..support.servers import CLI, free_port, server
from .test_devidp import verify_signatures

SP_ACS = "http://app.test/saml/c/tenant1/acs"


def test_each_tenant_signs_with_its_own_key_for_its_own_users() -> None:
    one, two = dev_tenants("http://idp.test", 2)
    assert one.entity_id != two.entity_id and one.cert_pem != two.cert_pem
    assert [u.email.rpartition("@")[2] for u in two.users] == [tenant_domain(2)] * len(two.users)
    xml = one.issue_response("b.simon@tenant1.example", acs_url=SP_ACS, audience="http://app.test/sp")
    assert verify_signatures(xml, one.cert_pem) == ["Assertion"]
    assert one.entity_id.encode() in xml
    with pytest.raises(xmlsec.Error):
        verify_signatures(xml, two.cert_pem)  # another tenant's certificate does not verify it
    with pytest.raises(ValueError):
        one.issue_response("b.simon@tenant2.example", acs_url=SP_ACS, audience="http://app.test/sp")


def test_tenant_ids_and_so_metadata_urls_survive_a_restart() -> None:
    first, second = dev_tenants("http://idp.test", 3), dev_tenants("http://idp.test", 3)
    assert [i.metadata_url for i in first] == [i.metadata_url for i in second]
    assert len({i.metadata_url for i in first}) == 3


def test_a_tenant_count_out_of_range_is_a_usage_error(capsys) -> None:
    assert main(["dev-idp", "--tenants", "0"]) == 2
    assert "1 to 50 tenants, not 0" in capsys.readouterr().err


def test_the_command_serves_each_tenant_at_the_metadata_url_it_prints(tmp_path) -> None:
    port = free_port()
    args = [*CLI, "dev-idp", "--tenants", "2", "--idp-port", str(port), "--public-host", "127.0.0.1",
            "--key-dir", str(tmp_path)]  # fmt: skip
    with server(args, f"http://127.0.0.1:{port}/", tmp_path / "log.txt"):
        banner = (tmp_path / "log.txt").read_text()
        urls = re.findall(r"metadata:\s+(\S+)", banner)
        add = f"curl -so tenant2.xml {urls[1]} && saml-middleware connections add tenant2"
        add += " --domain tenant2.example"
        assert (
            len(urls) == 2 and f"{add} --metadata-file tenant2.xml" in banner
        )  # http: not a connection's URL
        for number, url in enumerate(urls, 1):
            metadata = httpx.get(url, timeout=10)
            assert metadata.status_code == 200
            cert = (tmp_path / f"tenant{number}" / "idp-cert.pem").read_text()
            body = "".join(cert.strip().splitlines()[1:-1])
            assert body in metadata.text.replace("\n", "")  # signs with its own, kept, key
        entity_ids = re.findall(r"entity ID (\S+)", banner)
        assert len(set(entity_ids)) == 2
        index = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert "tenant1.example" in index and "tenant2.example" in index
        my_apps = httpx.get(f"http://127.0.0.1:{port}/tenant2/", timeout=10).text
        assert "b.simon@tenant2.example" in my_apps and "tenant1.example" not in my_apps


def test_tenants_can_have_the_email_domains_of_named_companies() -> None:
    """What ``demo --tenants`` uses: tenant 1 is Contoso's, tenant 2 Fabrikam's."""
    from saml_middleware.devidp.tenants import tenants_app

    contoso, fabrikam = dev_tenants("http://idp.test", 2, domains=["contoso.com", "fabrikam.com"])
    assert {u.email.rpartition("@")[2] for u in contoso.users} == {"contoso.com"}
    assert {u.email.rpartition("@")[2] for u in fabrikam.users} == {"fabrikam.com"}
    assert (
        contoso.get_user("b.simon@contoso.com").object_id
        != fabrikam.get_user("b.simon@fabrikam.com").object_id
    )
    with asgi_client(tenants_app([contoso, fabrikam]), "http://idp.test") as client:
        index = client.get("/").text
    assert "*@contoso.com" in index and "*@fabrikam.com" in index
    with pytest.raises(ValueError, match="one e-mail domain per tenant: 2, not 1"):
        dev_tenants("http://idp.test", 2, domains=["contoso.com"])
