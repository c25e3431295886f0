"""The setup page's forms: read them (URL-encoded or multipart, bounded) and turn the IdP given
on them into a validated connection.

The IdP comes, as in Entra's "SAML Certificates" and "Set up" sections, as one of:

* ``source=url``: the App Federation Metadata Url, fetched with SSRF protection
  (:mod:`saml_middleware.connections.safefetch`);
* ``source=xml``: the downloaded Federation Metadata XML, uploaded (at most
  :data:`UPLOAD_CAP` bytes) and parsed by the hardened parser;
* ``source=manual``: Login URL, Microsoft Entra Identifier and Certificate (Base64),
  the ``.cer`` text with or without its PEM armour.

Nothing is saved unless the IdP loads with the code the middleware itself uses
(:func:`~saml_middleware.gate.metadata_refresh.load_idp` and the
:class:`~saml_middleware.protocol.sp.ServiceProvider` built on it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.parser import BytesParser

from ..config import Settings
from ..connections import Connection, settings_for
from ..connections.safefetch import FetchRefused
from ..errors import ConfigError
from ..http import FormError, HTTPRequest, form_text, media_type, query_fields
from ..masking import redact
from ..pem import certificate_summary, load_certificates
from ..protocol.metadata import IdPInfo
from ..protocol.sp import ServiceProvider
from ..stores import MemoryReplayCache
from .metadata_refresh import load_idp

__all__ = ["FORM_CAP", "UPLOAD_CAP", "SetupInputError", "describe_idp", "idp_candidate", "read_setup_form"]

#: the largest Federation Metadata XML (or certificate file) accepted
UPLOAD_CAP = 2 * 1024 * 1024
#: the largest form body read: an upload at the cap and the other fields
FORM_CAP = UPLOAD_CAP + 64 * 1024
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")


class SetupInputError(Exception):
    """A form the setup page cannot use; ``message`` is shown on the page (escaped)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def read_setup_form(request: HTTPRequest, cap: int = FORM_CAP) -> dict[str, str]:
    """The fields of a posted setup form, each at most once; uploaded files as UTF-8 text.

    :param cap: the largest body accepted (what the adapter was asked to read for this path).
    :raises SetupInputError: 413 over ``cap`` / :data:`UPLOAD_CAP`, 415 for another
        media type, 400 for anything unreadable.
    """
    declared = request.headers.get("content-length", "")
    if len(request.body) > cap or (declared.isdigit() and int(declared) > cap):
        what = (
            f"the upload is larger than {UPLOAD_CAP // (1024 * 1024)} MB"
            if cap >= UPLOAD_CAP
            else "the form is too large"
        )
        raise SetupInputError(what, 413)
    content_type = request.headers.get("content-type", "")
    if media_type(content_type) == "multipart/form-data":
        return _multipart(content_type, request.body)
    try:
        fields = query_fields(form_text(content_type, request.body), max_fields=20, keep_blank=True)
    except FormError as exc:
        status = 415 if exc.problem == "content_type" else 400
        raise SetupInputError(f"the form could not be read ({exc})", status) from None
    if any(len(values) != 1 for values in fields.values()):
        raise SetupInputError("a form field was sent twice")
    return {name: values[0] for name, values in fields.items()}


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise SetupInputError("the upload could not be read (not a multipart form)")
    out: dict[str, str] = {}
    for count, part in enumerate(message.iter_parts()):
        name = part.get_param("name", header="content-disposition")
        if count >= 20 or not isinstance(name, str) or name in out:
            raise SetupInputError("the upload could not be read (unnamed, repeated or too many fields)")
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        if len(raw) > UPLOAD_CAP:
            raise SetupInputError(f"the file is larger than {UPLOAD_CAP // (1024 * 1024)} MB", 413)
        try:
            out[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SetupInputError(f"the field {name!r} is not UTF-8 text (upload the XML file)") from None
    return out


def certificate_pems(text: str) -> tuple[str, ...]:
    """Entra's "Certificate (Base64)": the ``.cer`` text with or without its PEM armour.

    Never read as a file path (the shared certificate loader takes paths from operators).

    :raises SetupInputError: nothing usable was pasted.
    """
    text = text.strip().replace("\r\n", "\n")
    if "-----BEGIN CERTIFICATE-----" not in text:
        if not text or not _BASE64.fullmatch(text):
            raise SetupInputError(
                "paste the Certificate (Base64) from Entra's SAML Certificates section: the text of "
                "the downloaded .cer file, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----"
            )
        text = "-----BEGIN CERTIFICATE-----\n" + "".join(text.split()) + "\n-----END CERTIFICATE-----"
    try:
        return tuple(load_certificates(text))
    except ValueError as exc:
        raise SetupInputError(f"the certificate cannot be used: {exc}") from None


def idp_candidate(
    base: Settings,
    connection: Connection,
    form: dict[str, str],
    *,
    fetch: Callable[[str], bytes],
) -> tuple[Connection, IdPInfo]:
    """``connection`` with the IdP given on ``form``, and that IdP as the middleware loads it.

    :param fetch: fetches a metadata URL (SSRF-safe); raises :class:`FetchRefused`.
    :raises SetupInputError: the form, the metadata or the resulting set-up is refused.
    """
    cleared = {
        "idp_metadata_url": "",
        "idp_metadata": "",
        "idp_sso_url": "",
        "idp_entity_id": "",
        "idp_cert": (),
        "idp_slo_url": "",
    }
    source = form.get("source", "")
    fetched: bytes | None = None
    if source == "url":
        url = form.get("metadata_url", "").strip()
        if not url:
            raise SetupInputError("paste the App Federation Metadata Url from Entra")
        try:
            fetched = fetch(url)
        except FetchRefused as exc:
            raise SetupInputError(f"the metadata URL was not fetched: {exc}") from None
        values: dict[str, object] = {**cleared, "idp_metadata_url": url}
    elif source == "xml":
        xml = form.get("metadata_file", "").strip() or form.get("metadata_xml", "").strip()
        if not xml:
            raise SetupInputError("choose the Federation Metadata XML file downloaded from Entra")
        values = {**cleared, "idp_metadata": xml}
    elif source == "manual":
        sso, entity = form.get("sso_url", "").strip(), form.get("idp_entity_id", "").strip()
        if not sso.startswith(("https://", "http://")) or not entity:
            raise SetupInputError(
                "paste the Login URL (https://...) and the Microsoft Entra Identifier from Entra's "
                "Set up section"
            )
        certificate = form.get("certificate_file", "").strip() or form.get("certificate", "")
        values = {
            **cleared,
            "idp_sso_url": sso,
            "idp_entity_id": entity,
            "idp_cert": certificate_pems(certificate),
        }
    else:
        raise SetupInputError("choose how to give the identity provider")
    try:
        candidate = replace(connection, **values)  # type: ignore[arg-type]
        settings = settings_for(base, candidate)
        idp = load_idp(settings, fetcher=lambda _url: fetched or b"")
        if not idp.configured:
            raise ConfigError(["no identity provider was found in what was given"])
        ServiceProvider(settings, idp, MemoryReplayCache())  # what every login and the ACS build
    except ConfigError as exc:
        raise SetupInputError("; ".join(redact(p) for p in exc.problems)) from None
    return candidate, idp


def describe_idp(connection: Connection, idp: IdPInfo) -> str:
    """What the audit log says of a new IdP: its source, entity ID and certificate fingerprints."""
    source = (
        f"metadata URL {redact(connection.idp_metadata_url)}"
        if connection.idp_metadata_url
        else "uploaded metadata XML"
        if connection.idp_metadata
        else "login URL and certificate"
    )
    prints = ", ".join(certificate_summary(c)["sha256"][:23] for c in idp.certificates)
    return f"idp set from {source}: entity {idp.entity_id}, signing certificate(s) {prints}"
