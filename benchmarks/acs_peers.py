"""The ``acs`` section: processing one fresh Entra-shaped response, ours vs the peers.

Contenders: ours (protocol core; whole ACS endpoint), python3-saml
(``OneLogin_Saml2_Auth.process_response``), stock pysaml2 (the ``xmlsec1`` binary) and
the raw verify floor (python-xmlsec verifying the two signatures only). Each gets n new
responses, prepared outside the clock; the peers are skipped when not installed.
"""

from __future__ import annotations

import base64
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from common import (
    ACS,
    BASE,
    ENTITY,
    Gate,
    HTTPRequest,
    MemoryReplayCache,
    Row,
    ServiceProvider,
    acs_post,
    load_idp,
    percentiles,
    responses,
)
from lxml import etree

from saml_middleware import Settings
from saml_middleware.devidp import DevIdP

T = TypeVar("T")
DS = "{http://www.w3.org/2000/09/xmldsig#}"


@dataclass(frozen=True)
class Contender(Generic[T]):
    """``prepare(idp, n)`` makes n inputs outside the clock; ``run`` handles one."""

    prepare: Callable[[DevIdP, int], list[T]]
    run: Callable[[T], object]


def ours_core(settings: Settings) -> Contender[tuple[str, str]]:
    """``ServiceProvider.process_response``: every protocol check, replay cache, identity."""
    sp = ServiceProvider(settings, load_idp(settings), MemoryReplayCache())

    def run(item: tuple[str, str]) -> object:
        return sp.process_response(item[0], item[1]).user.email

    return Contender(responses, run)


def ours_endpoint(settings: Settings) -> Contender[HTTPRequest]:
    """``Gate.handle_endpoint`` for ``POST /saml/acs``: form, login cookie, checks, directory, session."""
    gate = Gate(settings)

    def run(request: HTTPRequest) -> object:
        response = gate.handle_endpoint(request)
        if response.status != 303:
            raise SystemExit(f"the gate refused the benchmark response: {response.status}")
        return response

    return Contender(lambda idp, n: [acs_post(gate, idp).request for _ in range(n)], run)


def stock_pysaml2(idp: DevIdP, workdir: Path) -> Contender[tuple[str, str]] | None:
    """pysaml2's default backend: the ``xmlsec1`` binary, a subprocess per signature."""
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        print("stock pysaml2 skipped: no xmlsec1 binary (apt-get install xmlsec1)", file=sys.stderr)
        return None
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    metadata = workdir / "idp.xml"
    metadata.write_bytes(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    sp = {
        "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
        "allow_unsolicited": False,
        "want_response_signed": False,
        "want_assertions_signed": False,
        "want_assertions_or_response_signed": True,
    }
    config = SPConfig()
    config.load(
        {
            "entityid": ENTITY,
            "xmlsec_binary": xmlsec,
            "metadata": {"local": [str(metadata)]},
            "service": {"sp": sp},
        }
    )
    client = Saml2Client(config=config)

    def run(item: tuple[str, str]) -> object:
        b64, rid = item
        result = client.parse_authn_request_response(b64, BINDING_HTTP_POST, outstanding={rid: "/"})
        if result is None or result.assertion is None:
            raise SystemExit("stock pysaml2 refused the benchmark response")
        return result.name_id

    return Contender(responses, run)


PythonSamlInput = tuple[dict[str, Any], str]


def python3_saml(idp: DevIdP) -> Contender[PythonSamlInput] | None:
    """python3-saml (OneLogin), strict, settings object built once, as its docs show."""
    try:
        from onelogin.saml2.auth import OneLogin_Saml2_Auth
        from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
        from onelogin.saml2.settings import OneLogin_Saml2_Settings
    except ImportError:
        print("python3-saml skipped: not installed (make bench installs it in .benchvenv)", file=sys.stderr)
        return None
    cert = "".join(idp.cert_pem.strip().splitlines()[1:-1])
    security = {
        "wantAssertionsSigned": True,
        "wantMessagesSigned": False,
        "rejectDeprecatedAlgorithm": True,
        "requestedAuthnContext": False,
    }
    saml_settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": ENTITY,
                "assertionConsumerService": {"url": ACS, "binding": C.BINDING_HTTP_POST},
                "NameIDFormat": C.NAMEID_EMAIL_ADDRESS,
            },
            "idp": {
                "entityId": idp.entity_id,
                "singleSignOnService": {"url": idp.sso_url, "binding": C.BINDING_HTTP_REDIRECT},
                "x509cert": cert,
            },
            "security": security,
        },
        sp_validation_only=True,
    )
    host = BASE.split("://", 1)[1]

    def prepare(idp: DevIdP, n: int) -> list[PythonSamlInput]:
        return [
            (
                {
                    "https": "on",
                    "http_host": host,
                    "script_name": "/saml/acs",
                    "get_data": {},
                    "post_data": {"SAMLResponse": b64},
                },
                rid,
            )
            for b64, rid in responses(idp, n)
        ]

    def run(item: PythonSamlInput) -> object:
        auth = OneLogin_Saml2_Auth(item[0], old_settings=saml_settings)
        auth.process_response(request_id=item[1])
        if auth.get_errors() or not auth.is_authenticated():
            raise SystemExit(f"python3-saml refused the benchmark response: {auth.get_last_error_reason()}")
        return auth.get_nameid()

    return Contender(prepare, run)


def verify_floor(idp: DevIdP) -> Contender[tuple[str, str]]:
    """The floor: base64, parse, and python-xmlsec verifying the two signatures; no other check."""
    import xmlsec

    key = xmlsec.Key.from_memory(idp.cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)

    def run(item: tuple[str, str]) -> object:
        root = etree.fromstring(base64.b64decode(item[0]), parser)
        xmlsec.tree.add_ids(root, ["ID"])
        signatures = list(root.iter(DS + "Signature"))
        if len(signatures) != 2:
            raise SystemExit("expected two signatures")
        for signature in signatures:
            ctx = xmlsec.SignatureContext()
            ctx.key = key
            ctx.verify(signature)
        return root

    return Contender(responses, run)


def time_contender(contender: Contender[T], idp: DevIdP, n: int) -> tuple[float, float]:
    items = contender.prepare(idp, n + 1)
    contender.run(items[0])  # warm-up: first-call imports and caches
    samples = []
    for item in items[1:]:
        start = time.perf_counter()
        contender.run(item)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def section(idp: DevIdP, settings: Settings, n: int) -> None:
    """Print the ACS table: p50/p99 per contender and each one's ratio to ours."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        contenders: dict[str, Contender[Any] | None] = {
            "ours: protocol core (ServiceProvider)": ours_core(settings),
            "ours: whole ACS endpoint (Gate)": ours_endpoint(settings),
            "python3-saml process_response": python3_saml(idp),
            "stock pysaml2 (xmlsec1 binary)": stock_pysaml2(idp, Path(tmp)),
            "floor: python-xmlsec, 2 signatures only": verify_floor(idp),
        }
        for name, contender in contenders.items():
            if contender is not None:
                rows.append((name, *time_contender(contender, idp, n)))
    core, endpoint = rows[0][1], rows[1][1]
    print(f"\nACS, a fresh Entra-shaped response each (RSA-2048, SHA-256, Response+Assertion signed), n={n}")
    print(f"{'contender':48} {'p50 ms':>8} {'p99 ms':>8} {'/ours core':>11} {'/ours ACS':>10}")
    for name, p50, p99 in rows:
        print(f"{name:48} {p50 * 1e3:8.2f} {p99 * 1e3:8.2f} {p50 / core:10.1f}x {p50 / endpoint:9.1f}x")
