"""``check`` and ``/saml/ready`` name what is wrong with a real store: password or ACL, TLS and mutual
TLS, a read-only replica; and the TLS options of ``rediss://`` work against a real TLS port."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from saml_middleware import SAMLMiddleware
from saml_middleware.cli import main
from saml_middleware.stores import open_store

from ..support.asgiclient import asgi_client
from ..support.harness import APP, Seen, asgi_app
from ..support.processes import free_port
from ..support.redisha import Node, poll
from ..support.redisserver import RedisServer

pytestmark = pytest.mark.needs("redis-server")
ENTITY = "http://app.test/saml/metadata"


def _issue(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
    *,
    ca: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0] if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> tuple[str, str]:
    crt, pem = directory / f"{name}.crt", directory / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(crt), str(pem)


class TLSRedis:
    """A redis-server with a plain port (for the fixture) and a TLS port requiring client certificates."""

    def __init__(self, directory: Path) -> None:
        keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
        ca = _issue("test CA", keys[0], None, ca=True)
        self.ca, _ = _write(directory, "ca", ca, keys[0])
        issuer = (ca.subject, keys[0])
        server = _write(directory, "server", _issue("127.0.0.1", keys[1], issuer), keys[1])
        self.client_cert, self.client_key = _write(
            directory, "client", _issue("app", keys[2], issuer), keys[2]
        )
        self.tls_port = free_port()
        self.node = Node(
            directory,
            [
                f"tls-port {self.tls_port}",
                f"tls-cert-file {server[0]}",
                f"tls-key-file {server[1]}",
                f"tls-ca-cert-file {self.ca}",
                "tls-auth-clients yes",
                "save ''",
            ],
        )


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRedis]:
    server = TLSRedis(tmp_path_factory.mktemp("tls"))
    server.node.start()
    yield server
    server.node.stop()


def test_tls_and_mutual_tls_are_checked_and_named(tls_redis: TLSRedis, env, monkeypatch, capsys) -> None:
    base = f"rediss://127.0.0.1:{tls_redis.tls_port}/0?ssl_ca_certs={tls_redis.ca}"
    good = f"{base}&ssl_certfile={tls_redis.client_cert}&ssl_keyfile={tls_redis.client_key}"
    stores = open_store(good, namespace=ENTITY, session_max_age=60)
    assert stores.ready().ok and stores.replay.add("k", 2e9) and not stores.replay.add("k", 2e9)
    monkeypatch.setenv("SAML_STORE_URL", good)
    assert main(["check"]) == 0
    capsys.readouterr()
    for url in (
        base,  # no client certificate: the server ends the handshake
        f"rediss://127.0.0.1:{tls_redis.tls_port}/0",  # the test CA is not trusted
        f"redis://127.0.0.1:{tls_redis.tls_port}/0",  # plain text to a TLS port
    ):
        result = open_store(url, namespace=ENTITY, session_max_age=60).ready()
        assert not result.ok and result.reason in ("tls", "unreachable", "timeout"), (url, result)
    monkeypatch.setenv("SAML_STORE_URL", f"rediss://127.0.0.1:{tls_redis.tls_port}/0")
    assert main(["check"]) == 1
    assert ": tls: the TLS handshake failed" in capsys.readouterr().err


def test_wrong_password_and_a_narrow_acl_are_named(
    redis_server: RedisServer, env, monkeypatch, capsys, settings_factory, clock, clients
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    admin.acl_setuser("app", enabled=True, passwords=["+right-pw"], keys=["other:*"], commands=["+@all"])
    admin.acl_setuser(
        "sam", enabled=True, passwords=["+right-pw"], keys=["saml-middleware:*"], commands=["+@all"]
    )
    try:
        port = redis_server.port
        for url in (f"redis://app:wrong-pw@127.0.0.1:{port}/0", f"redis://app:right-pw@127.0.0.1:{port}/0"):
            monkeypatch.setenv("SAML_STORE_URL", url)
            assert main(["check"]) == 1
            err = capsys.readouterr().err
            assert ": auth: the store refused the credentials or the ACL user" in err
            assert "wrong-pw" not in err and "right-pw" not in err
        monkeypatch.setenv("SAML_STORE_URL", f"redis://sam:right-pw@127.0.0.1:{port}/0")
        assert main(["check"]) == 0  # an ACL limited to the middleware's keys is enough
        app = SAMLMiddleware(
            asgi_app(Seen()), settings=settings_factory(store_url=f"redis://app:right-pw@127.0.0.1:{port}/0")
        )
        client = asgi_client(app, APP)
        clients.append(client)
        assert client.get("/saml/ready").json() == {"status": "unavailable", "reason": "auth"}
    finally:
        admin.acl_deluser("app", "sam")
        admin.close()


def test_a_read_only_replica_is_named(
    redis_server: RedisServer, tmp_path: Path, env, monkeypatch, capsys
) -> None:
    replica = Node(tmp_path, ["save ''", f"replicaof 127.0.0.1 {redis_server.port}"])
    replica.start()
    try:
        assert poll(lambda: replica.client().info("replication")["master_link_status"] == "up", 10)
        monkeypatch.setenv("SAML_STORE_URL", f"redis://127.0.0.1:{replica.port}/0")
        assert main(["check"]) == 1
        assert ": read_only: the server is a read-only replica" in capsys.readouterr().err
    finally:
        replica.stop()


def test_a_password_with_url_delimiters_over_tcp_and_a_unix_socket(
    tmp_path: Path, env, monkeypatch, capsys, settings_factory, clients
) -> None:
    password = "p/a#s?s@w:rd%"  # every character a URL parser trips on
    socket_path = tmp_path / "redis.sock"
    lines = ["save ''", f'requirepass "{password}"', f"unixsocket {socket_path}", "unixsocketperm 700"]
    server = Node(tmp_path, lines, password=password)
    try:
        server.start()
        typed = password.replace("%", "%25")  # the one rule: a literal % is written %25
        for url in (f"redis://:{typed}@127.0.0.1:{server.port}/0", f"unix://:{typed}@{socket_path}?db=1"):
            monkeypatch.setenv("SAML_STORE_URL", url)
            assert main(["check"]) == 0
            printed = capsys.readouterr()
            assert "p/a#s" not in printed.out + printed.err
            app = SAMLMiddleware(asgi_app(Seen()), settings=settings_factory(store_url=url))
            client = asgi_client(app, APP)
            clients.append(client)
            assert client.get("/saml/ready").json() == {"status": "ready"}
            assert "p/a#s" not in repr(app.settings)
    finally:
        server.stop()
