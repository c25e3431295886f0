"""An https server on loopback with a self-signed certificate (for ``localhost`` and 127.0.0.1),
serving IdP metadata, too big an answer and redirects: what a metadata URL may point at.
The SSRF tests fetch from it with a TLS context trusting its certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from saml_middleware.connections.safefetch import MAX_METADATA_BYTES

__all__ = ["MetadataServer"]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class MetadataServer:
    """An https server on 127.0.0.1: ``/md`` the IdP metadata, ``/big`` too much, ``/hop`` a redirect.

    :ivar hits: the path of every request received (what was fetched, in order).
    :param tls: ``False``: plain http (to show an ``http://`` URL is never fetched).
    """

    def __init__(self, metadata: bytes, directory: Path, *, tls: bool = True) -> None:
        cert, key = _self_signed(directory)
        self.hits: list[str] = []
        hits = self.hits
        self.trust = ssl.create_default_context(cafile=str(cert))
        routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/md": (200, {"content-type": "application/xml"}, metadata),
            "/big": (200, {}, b"<x>" + b"a" * MAX_METADATA_BYTES + b"</x>"),
            "/hop": (302, {"location": "/md"}, b""),
            "/out": (302, {"location": "http://localhost/md"}, b""),
            "/inside": (302, {"location": "https://169.254.169.254/latest/meta-data/"}, b""),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                status, headers, body = routes.get(self.path, (404, {}, b"no"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "localhost", scheme: str = "https") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
