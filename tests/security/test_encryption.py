"""Encrypted assertions and NameIDs (issue 12, items 3, 4 and 11).

Anyone holding the SP's *public* certificate can encrypt for it, so everything inside an
``EncryptedAssertion`` is attacker input until its signature verifies. Each hostile case posts
through the ACS of both adapters and must be refused with its reason code while three witnesses
(inotify on the attacker's files, a loopback listener for its URLs, a Python audit hook) see no
file or network access. A subprocess under ``RLIMIT_AS`` shows the memory bound.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import xmlsec
from lxml import etree

from saml_middleware.devidp import DevIdP, generate_keypair
from saml_middleware.devidp.encrypt import encrypt_assertion, encrypt_element
from saml_middleware.devidp.signer import sign_element
from saml_middleware.protocol.xmlenc import MAX_CIPHER_CHARS

from .helpers import (
    ACS_URL,
    EMAIL,
    EVIL,
    NS,
    SP_ENTITY_ID,
    Flow,
    assertion_of,
    evilize,
    name_id,
    parse,
    q,
    serialize,
    strip_signatures,
)
from .watch import AuditLog, Listener, OpenWatch

XENC11 = "http://www.w3.org/2009/xmlenc11#"
ENCRYPTED_KEY_TYPE = NS["xenc"] + "EncryptedKey"


@pytest.fixture(scope="module")
def sp_keys() -> tuple[str, str]:
    return generate_keypair("encryption test SP")


@pytest.fixture
def keyed_flow(start_flow: Callable[..., Flow], sp_keys: tuple[str, str]) -> Callable[..., Flow]:
    """``keyed_flow(**settings)``: a started login on an app holding the SP key pair."""
    key, cert = sp_keys
    return lambda **settings: start_flow(sp_key=key, sp_cert=cert, **settings)


# -- what the attacker points at, and who watches it -----------------------------------------
@dataclass
class Targets:
    secret: Path
    listener: Listener
    audit: AuditLog

    @property
    def file_uri(self) -> str:
        return self.secret.as_uri()

    @property
    def http_uri(self) -> str:
        return f"http://127.0.0.1:{self.listener.port}/key"

    @contextmanager
    def untouched(self) -> Iterator[None]:
        """Assert that nothing inside the block opened the secret file or reached the listener."""
        watch = OpenWatch([self.secret])
        try:
            with self.audit.recording() as events:
                yield
            touched = [e for e in events if str(self.secret) in e[1] or f", {self.listener.port})" in e[1]]
            assert touched == []
            assert watch.opened() == []
            assert self.listener.connections() == 0
        finally:
            watch.close()


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    secret = tmp_path_factory.mktemp("attacker") / "secret.xml"
    secret.write_text("<x>the attacker wants this read</x>")
    listener = Listener()
    yield Targets(secret, listener, AuditLog.install())
    listener.close()


# -- building encrypted responses -------------------------------------------------------------
def encrypted_root(flow: Flow | DevIdP, cert: str) -> etree._Element:
    """This login's response (or an unsolicited one), the Assertion signed and then encrypted
    for ``cert`` (as Entra)."""
    idp = flow if isinstance(flow, DevIdP) else flow.idp
    xml = idp.issue_response(
        EMAIL,
        acs_url=ACS_URL,
        audience=SP_ENTITY_ID,
        in_response_to=None if isinstance(flow, DevIdP) else flow.request_id,
        sign="assertion",
        encrypt_for=cert,
    )
    return parse(xml)


def encrypt_bytes(plaintext: bytes, cert: str, wrapper: str = "EncryptedAssertion") -> etree._Element:
    """``plaintext`` encrypted for ``cert`` (AES-256-CBC, RSA-OAEP): what anyone can make."""
    holder = etree.Element(q("saml", wrapper), nsmap={"saml": NS["saml"]})
    template = xmlsec.template.encrypted_data_create(
        holder, xmlsec.constants.TransformAes256Cbc, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(key)
    holder.append(template)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(cert.encode(), xmlsec.constants.KeyDataFormatCertPem))
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
    ctx.encrypt_binary(template, plaintext)
    return holder


def encrypted_assertion(root: etree._Element) -> etree._Element:
    found = root.find(q("saml", "EncryptedAssertion"))
    assert found is not None
    return found


def data_of(root: etree._Element) -> etree._Element:
    found = encrypted_assertion(root).find(q("xenc", "EncryptedData"))
    assert found is not None
    return found


def key_of(root: etree._Element) -> etree._Element:
    found = data_of(root).find(f"{q('ds', 'KeyInfo')}/{q('xenc', 'EncryptedKey')}")
    assert found is not None
    return found


def child(parent: etree._Element, prefix: str, local: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, q(prefix, local) if prefix in NS else f"{{{prefix}}}{local}", attrs)


# -- hostile EncryptedData / EncryptedKey shapes ---------------------------------------------
def cipher_reference(
    holder: Callable[[etree._Element], etree._Element], with_transforms: bool = False
) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        cipher_data = holder(root).find(q("xenc", "CipherData"))
        assert cipher_data is not None
        cipher_data.clear()
        ref = child(cipher_data, "xenc", "CipherReference", URI=t.http_uri if with_transforms else t.file_uri)
        if with_transforms:
            transforms = child(ref, "xenc", "Transforms")
            child(transforms, "ds", "Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#base64")

    return mutate


def retrieval_instead_of_key(uri: Callable[[Targets], str]) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        key = key_of(root)
        key.addprevious(etree.Element(q("ds", "RetrievalMethod"), URI=uri(t), Type=ENCRYPTED_KEY_TYPE))
        key.getparent().remove(key)  # type: ignore[union-attr]

    return mutate


def key_beside_but_retrieval_elsewhere(root: etree._Element, t: Targets) -> None:
    """Shibboleth's layout (EncryptedKey beside EncryptedData), the RetrievalMethod pointing at a file."""
    key = key_of(root)
    key_info = key.getparent()
    assert key_info is not None
    key.set("Id", "_k1")
    encrypted_assertion(root).append(key)
    child(key_info, "ds", "RetrievalMethod", URI=t.file_uri, Type=ENCRYPTED_KEY_TYPE)


def retrieval_with_xslt(root: etree._Element, t: Targets) -> None:
    """Shibboleth's layout with a same-document RetrievalMethod that carries an XSLT transform."""
    key = key_of(root)
    key_info = key.getparent()
    assert key_info is not None
    key.set("Id", "_k1")
    encrypted_assertion(root).append(key)
    retrieval = child(key_info, "ds", "RetrievalMethod", URI="#_k1", Type=ENCRYPTED_KEY_TYPE)
    transform = child(child(retrieval, "ds", "Transforms"), "ds", "Transform")
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")


def in_key_info_of_key(local: str, prefix: str = "ds", **attrs: Callable[[Targets], str]) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        key = key_of(root)
        key_info = child(key, "ds", "KeyInfo")
        key.insert(1, key_info)
        child(key_info, prefix, local, **{k: v(t) for k, v in attrs.items()})

    return mutate


def nested_encrypted_key(root: etree._Element, t: Targets) -> None:
    key = key_of(root)
    key_info = child(key, "ds", "KeyInfo")
    key.insert(1, key_info)
    key_info.append(copy.deepcopy(key_of(root)))


def in_data_key_info(prefix: str, local: str) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        key_info = key_of(root).getparent()
        assert key_info is not None
        element = child(key_info, prefix, local)
        if local == "AgreementMethod":
            element.set("Algorithm", XENC11 + "ECDH-ES")
            child(child(element, "xenc", "OriginatorKeyInfo"), "ds", "RetrievalMethod", URI=t.file_uri)
        else:
            element.text = "sp-key"

    return mutate


def data_reference_to(root: etree._Element, t: Targets) -> None:
    references = child(key_of(root), "xenc", "ReferenceList")
    child(references, "xenc", "DataReference", URI=t.file_uri)


def encryption_properties(root: etree._Element, t: Targets) -> None:
    properties = child(data_of(root), "xenc", "EncryptionProperties")
    child(properties, "xenc", "EncryptionProperty", Target=t.file_uri)


def too_many_keys(root: etree._Element, t: Targets) -> None:
    key = key_of(root)
    for _ in range(4):
        key.addnext(copy.deepcopy(key))


def cipher_value_with_child(root: etree._Element, t: Targets) -> None:
    value = data_of(root).find(f"{q('xenc', 'CipherData')}/{q('xenc', 'CipherValue')}")
    assert value is not None
    child(value, "xenc", "CipherReference", URI=t.file_uri)


def algorithm(holder: Callable[[etree._Element], etree._Element], uri: str) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        method = holder(root).find(q("xenc", "EncryptionMethod"))
        assert method is not None
        method.set("Algorithm", uri)

    return mutate


def oaep_digest(uri: str) -> Any:
    def mutate(root: etree._Element, t: Targets) -> None:
        method = key_of(root).find(q("xenc", "EncryptionMethod"))
        assert method is not None
        child(method, "ds", "DigestMethod", Algorithm=uri)

    return mutate


STRUCTURE_CASES = [
    ("CipherReference in EncryptedData", cipher_reference(data_of), "unsupported_encryption"),
    ("CipherReference in EncryptedKey", cipher_reference(key_of), "unsupported_encryption"),
    ("CipherReference with Transforms", cipher_reference(data_of, True), "unsupported_encryption"),
    ("RetrievalMethod to a file", retrieval_instead_of_key(lambda t: t.file_uri), "unsupported_encryption"),
    (
        "RetrievalMethod to a path",
        retrieval_instead_of_key(lambda t: str(t.secret)),
        "unsupported_encryption",
    ),
    ("RetrievalMethod to a URL", retrieval_instead_of_key(lambda t: t.http_uri), "unsupported_encryption"),
    ("key beside, RetrievalMethod to a file", key_beside_but_retrieval_elsewhere, "unsupported_encryption"),
    ("RetrievalMethod with an XSLT transform", retrieval_with_xslt, "unsupported_encryption"),
    (
        "RetrievalMethod in EncryptedKey",
        in_key_info_of_key("RetrievalMethod", URI=lambda t: t.file_uri),
        "unsupported_encryption",
    ),
    ("EncryptedKey inside EncryptedKey", nested_encrypted_key, "unsupported_encryption"),
    ("AgreementMethod", in_data_key_info("xenc", "AgreementMethod"), "unsupported_encryption"),
    ("KeyName lookup", in_data_key_info("ds", "KeyName"), "unsupported_encryption"),
    ("DataReference to a file", data_reference_to, "unsupported_encryption"),
    ("EncryptionProperties", encryption_properties, "unsupported_encryption"),
    ("five EncryptedKeys", too_many_keys, "unsupported_encryption"),
    ("markup inside CipherValue", cipher_value_with_child, "unsupported_encryption"),
    ("key wrap instead of content cipher", algorithm(data_of, NS["xenc"] + "kw-aes256"), "weak_algorithm"),
    ("unknown content cipher", algorithm(data_of, "http://evil.test/none"), "weak_algorithm"),
    ("RSA PKCS#1 v1.5 key transport", algorithm(key_of, NS["xenc"] + "rsa-1_5"), "weak_algorithm"),
    ("OAEP with MD5", oaep_digest("http://www.w3.org/2001/04/xmldsig-more#md5"), "weak_algorithm"),
]


@pytest.mark.parametrize(
    ("mutate", "reason"), [c[1:] for c in STRUCTURE_CASES], ids=[c[0] for c in STRUCTURE_CASES]
)
def test_hostile_encrypted_data_is_refused_without_file_or_network_access(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], targets: Targets, mutate: Any, reason: str
) -> None:
    flow = keyed_flow()
    root = encrypted_root(flow, sp_keys[1])
    mutate(root, targets)
    with targets.untouched():
        response = flow.post(root)
    flow.refused(response, reason)


def _signed_assertion_xml(flow: Flow) -> bytes:
    """The serialized, signed (unencrypted) Assertion of a fresh response for this login."""
    return serialize(assertion_of(flow.issue("assertion")))


def _plain(flow: Flow, which: str, t: Targets) -> bytes:
    signed = _signed_assertion_xml(flow)
    saml = f'xmlns:saml="{NS["saml"]}"'
    if which == "doctype with an external entity":
        doctype = f'<!DOCTYPE a [<!ENTITY x SYSTEM "{t.file_uri}">]>'
        return f"{doctype}<saml:Assertion {saml}>&x;</saml:Assertion>".encode()
    if which == "entity expansion":
        lol = "".join(f'<!ENTITY l{i} "&l{i - 1};&l{i - 1};&l{i - 1};&l{i - 1};">' for i in range(1, 12))
        return f'<!DOCTYPE a [<!ENTITY l0 "lol">{lol}]><saml:Assertion {saml}>&l11;</saml:Assertion>'.encode()
    if which == "two assertions":
        return signed + signed
    if which == "text beside the assertion":
        return signed + b"trailing"
    if which == "a NameID, not an Assertion":
        return f"<saml:NameID {saml}>{EVIL}</saml:NameID>".encode()
    if which == "processing instruction":
        return b"<?evil?>" + signed
    if which == "UTF-16 declaration":
        return b'<?xml version="1.0" encoding="UTF-16"?>' + signed
    if which == "not XML":
        return b"\x00\x01 not xml"
    if which == "breaks out of the wrapper":
        return signed + b"</saml-middleware-decrypted:Response><saml-middleware-decrypted:Response>"
    if which == "signed assertion wrapped in an evil one":
        evil = assertion_of(flow.issue("assertion"))
        original = copy.deepcopy(evil)
        strip_signatures(evil)
        evilize(evil)
        evil.set("ID", "_evil")
        evil.append(original)
        return serialize(evil)
    if which == "unsigned evil assertion":
        evil = assertion_of(flow.issue("assertion"))
        strip_signatures(evil)
        evilize(evil)
        return serialize(evil)
    if which == "XInclude of a file":
        evil = assertion_of(flow.issue("assertion"))
        strip_signatures(evil)
        include = etree.SubElement(evil, "{http://www.w3.org/2001/XInclude}include", href=t.file_uri)
        include.set("parse", "text")
        return serialize(evil)
    raise AssertionError(which)


PLAINTEXT_CASES = [
    ("doctype with an external entity", "dtd_forbidden"),
    ("entity expansion", "dtd_forbidden"),
    ("two assertions", "decryption_failed"),
    ("text beside the assertion", "decryption_failed"),
    ("a NameID, not an Assertion", "decryption_failed"),
    ("processing instruction", "processing_instruction"),
    ("UTF-16 declaration", "bad_encoding"),
    ("not XML", "malformed_xml"),
    ("breaks out of the wrapper", "malformed_xml"),
    ("signed assertion wrapped in an evil one", "multiple_assertions"),
    ("unsigned evil assertion", "signature_missing"),
    ("XInclude of a file", "signature_missing"),
]


@pytest.mark.parametrize(("which", "reason"), PLAINTEXT_CASES, ids=[c[0] for c in PLAINTEXT_CASES])
def test_hostile_plaintext_is_refused_by_the_hardened_parser(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], targets: Targets, which: str, reason: str
) -> None:
    """The attacker encrypts its own plaintext with the SP's public certificate."""
    flow = keyed_flow()
    root = encrypted_root(flow, sp_keys[1])
    encrypted_assertion(root).getparent().replace(  # type: ignore[union-attr]
        encrypted_assertion(root), encrypt_bytes(_plain(flow, which, targets), sp_keys[1])
    )
    with targets.untouched():
        response = flow.post(root)
    flow.refused(response, reason)


def test_cipher_value_over_the_cap_is_refused_before_decoding(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str]
) -> None:
    flow = keyed_flow(max_body=4 * MAX_CIPHER_CHARS)
    root = encrypted_root(flow, sp_keys[1])
    value = data_of(root).find(f"{q('xenc', 'CipherData')}/{q('xenc', 'CipherValue')}")
    assert value is not None
    value.text = "QUFB" * (MAX_CIPHER_CHARS // 4 + 1)
    flow.refused(flow.post(root), "too_large")


def test_the_witnesses_see_what_libxmlsec_opens_when_handed_a_reference(
    targets: Targets, sp_keys: tuple[str, str]
) -> None:
    """Positive control: given a CipherReference directly, libxmlsec opens the file with C
    ``fopen`` (the audit hook cannot see it, inotify does), and a Python open or connect is
    seen by the audit hook and the listener."""
    holder = encrypt_bytes(b"<x/>", sp_keys[1])
    data = holder[0]
    cipher_data = data.find(q("xenc", "CipherData"))
    assert cipher_data is not None
    cipher_data.clear()
    child(cipher_data, "xenc", "CipherReference", URI=targets.file_uri)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_keys[0].encode(), xmlsec.constants.KeyDataFormatPem))
    watch = OpenWatch([targets.secret])
    try:
        with pytest.raises(xmlsec.Error):
            xmlsec.EncryptionContext(manager).decrypt(data)
        assert watch.opened() == [targets.secret]
        with targets.audit.recording() as events:
            targets.secret.read_text()
            import socket

            socket.create_connection(("127.0.0.1", targets.listener.port), timeout=5).close()
        assert any(str(targets.secret) in e[1] for e in events)
        assert any(f", {targets.listener.port})" in e[1] for e in events)
        assert targets.listener.connections() == 1
    finally:
        watch.close()
        targets.listener.connections()


# -- memory bound ------------------------------------------------------------------------------
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from saml_middleware.protocol.decrypt import AssertionDecryptor
    from saml_middleware.errors import ResponseRejected
    from saml_middleware.protocol.xml import parse_untrusted, q

    decrypt = AssertionDecryptor(open(sys.argv[1]).read())
    documents = json.load(open(sys.argv[2]))
    status = open("/proc/self/status").read()
    size = int(next(l for l in status.splitlines() if l.startswith("VmSize:")).split()[1]) * 1024
    limit = size + int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    verdicts = {}
    for name, xml in documents.items():
        try:
            decrypt(parse_untrusted(xml.encode()).find(q("saml", "EncryptedAssertion")))
            verdicts[name] = "accepted"
        except ResponseRejected as exc:
            verdicts[name] = exc.reason
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"verdicts": verdicts, "grown_kib": grown}))
    """
)


def test_dev_zero_and_huge_values_are_refused_within_a_memory_bound(
    idp: DevIdP, sp_keys: tuple[str, str], tmp_path: Path
) -> None:
    """Under ``RLIMIT_AS`` (256 MiB over the interpreter's size), ``/dev/zero`` behind every kind
    of reference and a CipherValue over the cap are refused with their reason codes, the process
    is not killed, and its peak memory grows by less than 48 MiB."""
    zero = Targets(Path("/dev/zero"), Listener(), AuditLog.install())
    cases: dict[str, tuple[Any, str]] = {
        "data CipherReference": (cipher_reference(data_of), "unsupported_encryption"),
        "key CipherReference": (cipher_reference(key_of), "unsupported_encryption"),
        "RetrievalMethod": (retrieval_instead_of_key(lambda t: t.file_uri), "unsupported_encryption"),
    }
    documents = {}
    for name, (mutate, _reason) in cases.items():
        root = encrypted_root(idp, sp_keys[1])
        mutate(root, zero)
        documents[name] = serialize(root).decode()
    root = encrypted_root(idp, sp_keys[1])
    value = data_of(root).find(f"{q('xenc', 'CipherData')}/{q('xenc', 'CipherValue')}")
    assert value is not None
    value.text = "QUFB" * (3 * MAX_CIPHER_CHARS // 4)
    documents["huge CipherValue"] = serialize(root).decode()
    zero.listener.close()
    (tmp_path / "key.pem").write_text(sp_keys[0])
    (tmp_path / "documents.json").write_text(json.dumps(documents))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(tmp_path / "key.pem"),
            str(tmp_path / "documents.json"),
            str(256 << 20),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    expected = {name: reason for name, (_m, reason) in cases.items()} | {"huge CipherValue": "too_large"}
    assert result["verdicts"] == expected
    assert result["grown_kib"] < 48 * 1024


# -- item 4: prefixes kept, signature verified on the decrypted assertion ----------------------
def _with_prefixes(
    element: etree._Element, parent: etree._Element | None, nsmap: dict[Any, str] | None
) -> etree._Element:
    """A copy of ``element`` whose namespaces are declared with ``nsmap`` at the top."""
    attrib = dict(element.attrib)
    made = (
        etree.Element(element.tag, attrib, nsmap=nsmap)
        if parent is None
        else etree.SubElement(parent, element.tag, attrib, nsmap=nsmap)
    )
    made.text, made.tail = element.text, element.tail
    for sub in element:
        if isinstance(sub.tag, str):
            prefixes = {"saml2": NS["saml"]} if sub.tag == q("saml", "Assertion") else None
            _with_prefixes(sub, made, prefixes)
    return made


@pytest.mark.parametrize("mode", ["assertion", "both"])
def test_encrypted_assertion_with_another_saml_prefix_than_the_response_verifies(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], mode: str
) -> None:
    """The Response says ``saml:``, the signed-then-encrypted Assertion ``saml2:`` (as pysaml2
    does): it used to fail with ``signature_invalid`` once spliced into the Response."""
    flow = keyed_flow()
    plain = flow.issue("assertion")
    strip_signatures(plain)
    root = _with_prefixes(plain, None, {"samlp": NS["samlp"], "saml": NS["saml"]})
    assertion = assertion_of(root)
    assert assertion.prefix == "saml2" and root.find(q("saml", "Issuer")).prefix == "saml"  # type: ignore[union-attr]
    sign_element(assertion, flow.idp.key_pem, flow.idp.cert_pem)
    encrypt_assertion(assertion, sp_keys[1])
    if mode == "both":
        sign_element(root, flow.idp.key_pem, flow.idp.cert_pem)
    flow.accepted(flow.post(root))


# -- item 11: EncryptedID ----------------------------------------------------------------------
def _encrypt_name_id(cert: str) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        encrypt_element(name_id(root), cert, "EncryptedID")

    return mutate


@pytest.mark.parametrize("mode", ["assertion", "response", "encrypted assertion"])
def test_encrypted_name_id_is_decrypted_and_used(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], mode: str
) -> None:
    """With ``SAML_EMAIL_ATTRIBUTE=nameid`` the e-mail can only come from the decrypted NameID."""
    flow = keyed_flow(email_attribute="nameid")
    cert = sp_keys[1]
    if mode == "encrypted assertion":
        root = flow.issue("assertion", mutate=_encrypt_name_id(cert))
        encrypt_assertion(assertion_of(root), cert)
    else:
        root = flow.issue(mode, mutate=_encrypt_name_id(cert))  # type: ignore[arg-type]
    assert root.find(f".//{q('saml', 'NameID')}") is None
    flow.accepted(flow.post(root))


def test_encrypted_name_id_without_an_sp_key_is_refused(
    start_flow: Callable[..., Flow], sp_keys: tuple[str, str]
) -> None:
    flow = start_flow(email_attribute="nameid")
    flow.refused(flow.post(flow.issue("assertion", mutate=_encrypt_name_id(sp_keys[1]))), "encrypted_name_id")


def _name_id_replaced_by(holder: Callable[[], etree._Element]) -> Callable[[etree._Element], None]:
    def mutate(root: etree._Element) -> None:
        target = name_id(root)
        target.getparent().replace(target, holder())  # type: ignore[union-attr]

    return mutate


def test_hostile_encrypted_name_ids_are_refused(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], targets: Targets
) -> None:
    """The EncryptedID follows the EncryptedAssertion's rules: inline data only, exactly one NameID."""
    cert = sp_keys[1]
    saml = f'xmlns:saml="{NS["saml"]}"'

    def with_reference() -> etree._Element:
        holder = encrypt_bytes(f"<saml:NameID {saml}>{EMAIL}</saml:NameID>".encode(), cert, "EncryptedID")
        cipher_data = holder[0].find(q("xenc", "CipherData"))
        assert cipher_data is not None
        cipher_data.clear()
        child(cipher_data, "xenc", "CipherReference", URI=targets.file_uri)
        return holder

    cases: list[tuple[Callable[[], etree._Element], str]] = [
        (with_reference, "unsupported_encryption"),
        (
            lambda: encrypt_bytes(f"<saml:Issuer {saml}>{EMAIL}</saml:Issuer>".encode(), cert, "EncryptedID"),
            "decryption_failed",
        ),
        (lambda: encrypt_bytes(b"<!DOCTYPE a []><a/>", cert, "EncryptedID"), "dtd_forbidden"),
        (
            lambda: encrypt_bytes(
                f"<saml:NameID {saml}>{EMAIL}</saml:NameID>".encode(), generate_keypair("x")[1], "EncryptedID"
            ),
            "decryption_failed",
        ),
    ]
    for make, reason in cases:
        flow = keyed_flow(email_attribute="nameid")
        root = flow.issue("assertion", mutate=_name_id_replaced_by(make))
        with targets.untouched():
            response = flow.post(root)
        flow.refused(response, reason)


# -- what real IdPs send is accepted -------------------------------------------------------------
_DATA_TRANSFORMS = {
    "aes128-cbc": (xmlsec.constants.TransformAes128Cbc, xmlsec.constants.KeyDataAes, 128),
    "aes128-gcm": (xmlsec.constants.TransformAes128Gcm, xmlsec.constants.KeyDataAes, 128),
    "aes256-gcm": (xmlsec.constants.TransformAes256Gcm, xmlsec.constants.KeyDataAes, 256),
    "tripledes-cbc": (xmlsec.constants.TransformDes3Cbc, xmlsec.constants.KeyDataDes, 192),
}


def encrypt_like(
    assertion: etree._Element,
    cert: str,
    content: str,
    key_transport: str,
    digest: str | None,
    mgf: str | None,
) -> None:
    """Encrypt the (signed) ``assertion`` in place with the given algorithms and layout."""
    transform, key_data, bits = _DATA_TRANSFORMS[content]
    parent = assertion.getparent()
    assert parent is not None
    template = xmlsec.template.encrypted_data_create(
        parent, transform, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(key)
    method = key.find(q("xenc", "EncryptionMethod"))
    assert method is not None
    method.set("Algorithm", key_transport)
    if digest:
        child(method, "ds", "DigestMethod", Algorithm=digest)
    if mgf:
        child(method, XENC11, "MGF", Algorithm=mgf)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(cert.encode(), xmlsec.constants.KeyDataFormatCertPem))
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(key_data, bits, xmlsec.constants.KeyDataTypeSession)
    encrypted = ctx.encrypt_xml(template, assertion)
    holder = etree.Element(q("saml", "EncryptedAssertion"))
    encrypted.addprevious(holder)
    holder.append(encrypted)


_OAEP = NS["xenc"] + "rsa-oaep-mgf1p"
_OAEP11 = XENC11 + "rsa-oaep"
_SHA1 = NS["ds"] + "sha1"
_SHA256 = NS["xenc"] + "sha256"
REAL_IDPS = [
    ("Shibboleth IdP 4/5: AES-128-GCM, OAEP", ("aes128-gcm", _OAEP, _SHA1, None, False)),
    ("Shibboleth, key beside the data", ("aes128-cbc", _OAEP, _SHA1, None, True)),
    (
        "xmlenc 1.1 OAEP with SHA-256 and MGF1-SHA-256",
        ("aes256-gcm", _OAEP11, _SHA256, XENC11 + "mgf1sha256", False),
    ),
    ("pysaml2 / SATOSA: Triple-DES, OAEP", ("tripledes-cbc", _OAEP, None, None, False)),
]


@pytest.mark.parametrize("shape", [c[1] for c in REAL_IDPS], ids=[c[0] for c in REAL_IDPS])
def test_algorithms_and_layouts_real_idps_use_are_accepted(
    keyed_flow: Callable[..., Flow],
    sp_keys: tuple[str, str],
    shape: tuple[str, str, str | None, str | None, bool],
) -> None:
    flow = keyed_flow()
    plain = flow.issue("assertion")
    content, transport, digest, mgf, key_beside = shape
    encrypt_like(assertion_of(plain), sp_keys[1], content, transport, digest, mgf)
    root = parse(serialize(plain))  # (lxml finds nodes libxmlsec made only once re-parsed)
    if key_beside:  # Shibboleth's layout: the key beside the data, a same-document RetrievalMethod
        key = key_of(root)
        key_info = key.getparent()
        assert key_info is not None
        key.set("Id", "_key1")
        encrypted_assertion(root).append(key)
        child(key_info, "ds", "RetrievalMethod", URI="#_key1", Type=ENCRYPTED_KEY_TYPE)
    flow.accepted(flow.post(root))


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain assertion", "encrypted assertion"])
def test_retrieval_method_in_a_signature_key_info_is_never_followed(
    keyed_flow: Callable[..., Flow], sp_keys: tuple[str, str], targets: Targets, encrypted: bool
) -> None:
    """Sibling of the decryption references: a signature's KeyInfo lies outside SignedInfo, so a
    ``RetrievalMethod`` added there keeps the signature valid; the verifier uses only configured
    keys and never reads it (the login succeeds, nothing is opened)."""
    flow = keyed_flow()
    root = flow.issue("assertion")
    signature = assertion_of(root).find(q("ds", "Signature"))
    assert signature is not None
    key_info = signature.find(q("ds", "KeyInfo"))
    assert key_info is not None
    key_info.clear()
    child(key_info, "ds", "RetrievalMethod", URI=targets.file_uri)
    child(key_info, "ds", "KeyName").text = str(targets.secret)
    if encrypted:
        encrypt_assertion(assertion_of(root), sp_keys[1])
    with targets.untouched():
        response = flow.post(root)
    flow.accepted(response)
