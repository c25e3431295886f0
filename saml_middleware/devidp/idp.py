"""DevIdP: a local SAML 2.0 identity provider that looks like Microsoft Entra ID."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal
from urllib.parse import urlsplit

from lxml import etree
from starlette.applications import Starlette

from ..pem import certificate_object
from ..protocol.keys import generate_keypair
from ..user import normalize_email
from .app import build_app
from .authnrequest import AuthnRequestInfo, parse_authn_request
from .checks import check_choice, check_pair, check_url
from .encrypt import encrypt_assertion
from .logout import answer_logout, start_logout
from .metadata import build_metadata
from .responses import build_response
from .signer import Algorithm, XmlSigner
from .users import DEFAULT_USERS, DevUser

__all__ = ["DEFAULT_TENANT_ID", "DevIdP", "SignMode"]

SignMode = Literal["assertion", "response", "both"]

#: The tenant the dev IdP pretends to be unless told otherwise.
DEFAULT_TENANT_ID = "d7e6c5b4-a3f2-4e1d-9c0b-a1b2c3d4e5f6"

_SIGN_MODES = ("assertion", "response", "both")
_ALGORITHMS = ("sha256", "sha1")


class DevIdP:
    """An Entra ID-shaped SAML IdP for demos and tests. Never deploy it: it signs
    in anyone who clicks a name, and posts to whichever ACS URL a request names.

    :param base_url: where the IdP is served; URLs are ``{base_url}/{tenant_id}/...``.
    :param tenant_id: the tenant GUID in the issuer and URLs.
    :param users: who can sign in (default: :data:`DEFAULT_USERS`).
    :param key_pem: RSA signing key (PEM) with its ``cert_pem``; both or neither,
        a fresh pair is generated when omitted.
    :param sign: what to sign: the Assertion (Entra's default), the Response, or
        both (the Assertion first).
    :param algorithm: ``"sha256"``, or ``"sha1"`` to test refusal of weak signatures.
    :param sp_acs_url: ACS URL for IdP-initiated launches and for requests without one.
    :param sp_entity_id: the audience for IdP-initiated launches.
    :param sso_binding: the bindings its metadata lists: ``"both"`` (as Entra), ``"post"``
        (HTTP-POST only, as Google Workspace and OneLogin) or ``"redirect"``. Every binding is served.
    :param sp_cert_pem: the SP certificate (PEM): requests must then be signed by it (query
        signature on HTTP-Redirect, XML signature on HTTP-POST), as Entra's "Verification certificates".
    :param clock: source of every timestamp (POSIX seconds).
    :param id_factory: source of every XML ID, used verbatim (must be an NCName,
        e.g. ``"_" + uuid``); default ``_<uuid4>``.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8001",
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        users: Sequence[DevUser] | None = None,
        key_pem: str | None = None,
        cert_pem: str | None = None,
        sign: SignMode = "assertion",
        algorithm: Algorithm = "sha256",
        sp_acs_url: str | None = None,
        sp_entity_id: str | None = None,
        encrypt_for: str | None = None,
        sso_binding: str = "both",
        sp_cert_pem: str | None = None,
        clock: Callable[[], float] = time.time,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self._base_url = check_url("base_url", base_url).rstrip("/")
        try:
            self._tenant_id = str(uuid.UUID(tenant_id))
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"tenant_id must be a GUID, not {tenant_id!r}") from None
        self._users = tuple(DEFAULT_USERS if users is None else users)
        if not self._users:
            raise ValueError("users must not be empty")
        self._by_email: dict[str, DevUser] = {}
        for user in self._users:
            if not isinstance(user, DevUser):
                raise ValueError(f"users must be DevUser objects, not {type(user).__name__}")
            if normalize_email(user.email) in self._by_email:
                raise ValueError(f"two users have the e-mail {user.email!r}")
            self._by_email[normalize_email(user.email)] = user
        if (key_pem is None) != (cert_pem is None):
            raise ValueError("give both key_pem and cert_pem, or neither")
        if key_pem is None or cert_pem is None:
            key_pem, cert_pem = generate_keypair()
        else:
            check_pair(key_pem, cert_pem)
        self._key_pem, self._cert_pem = key_pem, cert_pem
        self._signer = XmlSigner(key_pem, cert_pem)
        check_choice("sign", sign, _SIGN_MODES)
        check_choice("algorithm", algorithm, _ALGORITHMS)
        self._sign, self._algorithm = sign, algorithm
        self.sp_acs_url = None if sp_acs_url is None else check_url("sp_acs_url", sp_acs_url)
        if sp_entity_id is not None and not (isinstance(sp_entity_id, str) and sp_entity_id):
            raise ValueError("sp_entity_id must be a non-empty string")
        self.sp_entity_id = sp_entity_id
        #: SP certificate (PEM) every assertion is encrypted for, like Entra "token encryption".
        self.encrypt_for = encrypt_for
        check_choice("sso_binding", sso_binding, ("both", "post", "redirect"))
        self.sso_binding = sso_binding
        if sp_cert_pem is not None:
            certificate_object(sp_cert_pem)  # ValueError when it is not a PEM certificate
        #: the SP certificate requests must be signed with (None: unsigned requests are taken)
        self.sp_cert_pem = sp_cert_pem
        if not callable(clock) or (id_factory is not None and not callable(id_factory)):
            raise ValueError("clock and id_factory must be callables")
        self._clock = clock
        self._new_id = id_factory or (lambda: f"_{uuid.uuid4()}")
        self._metadata: bytes | None = None
        #: The SP's single logout service (default: the ACS URL's sibling ``/sls``).
        self.sp_sls_url = None if sp_acs_url is None else sp_acs_url.rsplit("/", 1)[0] + "/sls"

    @property
    def base_url(self) -> str:
        """The URL the IdP is served at, without a trailing slash."""
        return self._base_url

    @property
    def path_prefix(self) -> str:
        """The path part of ``base_url`` ("" at the root); links in pages start with it."""
        return urlsplit(self._base_url).path

    @property
    def tenant_id(self) -> str:
        """The tenant GUID."""
        return self._tenant_id

    @property
    def entity_id(self) -> str:
        """The IdP entity ID and Issuer, ``https://sts.windows.net/{tenant_id}/`` as Entra's."""
        return f"https://sts.windows.net/{self._tenant_id}/"

    @property
    def sso_url(self) -> str:
        """The SAML sign-in URL (Redirect and POST), ``{base_url}/{tenant_id}/saml2``."""
        return f"{self._base_url}/{self._tenant_id}/saml2"

    @property
    def slo_url(self) -> str:
        """The logout URL: the same as :attr:`sso_url`, as with Entra."""
        return self.sso_url

    @property
    def metadata_url(self) -> str:
        """Where :meth:`metadata_xml` is served."""
        return f"{self._base_url}/{self._tenant_id}/federationmetadata/2007-06/federationmetadata.xml"

    @property
    def cert_pem(self) -> str:
        """The signing certificate (PEM), to configure the SP with."""
        return self._cert_pem

    @property
    def key_pem(self) -> str:
        """The signing key (PEM)."""
        return self._key_pem

    @property
    def users(self) -> tuple[DevUser, ...]:
        """Who can sign in."""
        return self._users

    def get_user(self, email: str) -> DevUser:
        """The user with this e-mail (compared as the middleware does, :func:`normalize_email`);
        ValueError when unknown."""
        try:
            return self._by_email[normalize_email(email)]
        except KeyError:
            raise ValueError(f"no dev IdP user has the e-mail {email!r}") from None

    def metadata_xml(self) -> bytes:
        """Signed Entra-shaped federation metadata, starting with a UTF-8 BOM.

        Built on first use and then cached (it holds no timestamps).
        """
        if self._metadata is None:
            self._metadata = build_metadata(
                entity_id=self.entity_id,
                sso_url=self.sso_url,
                slo_url=self.slo_url,
                wsfed_url=f"{self._base_url}/{self._tenant_id}/wsfed",
                document_id=self._new_id(),
                signer=self._signer,
                bindings=self.sso_binding,
            )
        return self._metadata

    def parse_authn_request(self, saml_request: str) -> AuthnRequestInfo:
        """Decode a ``SAMLRequest`` value (base64 + raw DEFLATE, or plain base64).

        :raises ValueError: when it is not a well-formed AuthnRequest with an ID and Issuer.
        """
        return parse_authn_request(saml_request)

    def issue_response(
        self,
        user: DevUser | str,
        *,
        acs_url: str,
        audience: str,
        in_response_to: str | None = None,
        sign: SignMode | None = None,
        algorithm: Algorithm | None = None,
        now: float | None = None,
        encrypt_for: str | None = None,
    ) -> bytes:
        """A signed SAML Response for ``user`` (a DevUser or a known e-mail), UTF-8 XML.

        :param acs_url: the Destination and Recipient.
        :param audience: the SP entity ID.
        :param in_response_to: the AuthnRequest ID; None for IdP-initiated.
        :param sign: overrides the instance's signing mode for this response.
        :param algorithm: overrides the instance's algorithm for this response.
        :param now: the issue instant (POSIX seconds); default ``clock()``.
        :param encrypt_for: an SP certificate (PEM): the assertion is signed,
            then encrypted for it, then the Response signed (as Entra does).
        :raises ValueError: for an unknown user or invalid arguments.
        """
        person = self.get_user(user) if isinstance(user, str) else user
        if not isinstance(person, DevUser):
            raise ValueError("user must be a DevUser or an e-mail address")
        if not acs_url or not audience:
            raise ValueError("acs_url and audience must not be empty")
        mode = self._sign if sign is None else sign
        digest = self._algorithm if algorithm is None else algorithm
        check_choice("sign", mode, _SIGN_MODES)
        check_choice("algorithm", digest, _ALGORITHMS)
        response, assertion = build_response(
            person,
            issuer=self.entity_id,
            tenant_id=self._tenant_id,
            acs_url=acs_url,
            audience=audience,
            in_response_to=in_response_to,
            now=self._clock() if now is None else now,
            new_id=self._new_id,
        )
        if mode in ("assertion", "both"):
            self._signer.sign(assertion, algorithm=digest)
        target = encrypt_for or self.encrypt_for
        if target is not None:
            encrypt_assertion(assertion, target)
        if mode in ("response", "both"):
            self._signer.sign(response, algorithm=digest)
        return etree.tostring(response, encoding="utf-8", xml_declaration=False)

    def logout_request_url(
        self, email: str, session_index: str | None = None, *, lowercase: bool = False
    ) -> str:
        """A signed IdP-initiated LogoutRequest for ``email``: the URL at the SP's SLS to redirect to."""
        return start_logout(
            self, self.get_user(email).email, session_index, self._clock(), self._new_id(), lowercase
        )

    def logout_response_url(self, saml_request: str, relay_state: str | None = None) -> str:
        """The signed LogoutResponse to an SP's LogoutRequest: the URL at the SP's SLS to redirect to."""
        return answer_logout(self, saml_request, relay_state, self._clock(), self._new_id())

    @functools.cached_property
    def app(self) -> Starlette:
        """The IdP's web pages and endpoints, as a Starlette (ASGI) application."""
        return build_app(self)

    def __repr__(self) -> str:
        return f"DevIdP({self._base_url!r}, tenant_id={self._tenant_id!r})"
