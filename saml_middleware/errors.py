"""The exception tree.

Every refusal carries a machine-readable ``reason`` code (stable, documented in
``docs/security.md``), the HTTP status the browser gets, and a ``detail`` for
the operator's log. Browsers only ever see generic text and a reference id;
the detail goes to the ``saml_middleware`` logger.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "REASONS",
    "ConfigError",
    "ResponseRejected",
    "SAMLMiddlewareError",
    "StoreUnavailable",
]

#: reason code -> (HTTP status, one-line explanation for operators)
REASONS: dict[str, tuple[int, str]] = {
    # transport
    "method_not_allowed": (405, "the ACS only accepts POST"),
    "unsupported_media_type": (415, "the ACS only accepts application/x-www-form-urlencoded"),
    "too_large": (413, "the request body, or an encrypted value inside it, is larger than allowed"),
    "missing_response": (400, "no SAMLResponse field in the form"),
    "bad_encoding": (400, "SAMLResponse is not strict base64 of UTF-8 XML"),
    # parsing
    "malformed_xml": (400, "the SAMLResponse is not well-formed XML"),
    "dtd_forbidden": (400, "a DOCTYPE or entity declaration was present"),
    "processing_instruction": (400, "an XML processing instruction was present"),
    "too_deep": (400, "the XML nesting is deeper than allowed"),
    # structure
    "not_a_response": (400, "the root element is not samlp:Response"),
    "multiple_assertions": (400, "the document does not hold exactly one assertion"),
    "duplicate_id": (400, "two elements carry the same ID"),
    "wrapped_signature": (400, "a signature is misplaced or references another element"),
    "malformed_response": (400, "a required SAML element or attribute is missing or invalid"),
    "envelope": (
        400,
        "Version is not 2.0, or an ID or IssueInstant is missing or invalid (Response or Assertion)",
    ),
    "encrypted_assertion": (400, "the assertion is encrypted and no SAML_SP_KEY is configured to decrypt it"),
    "encryption_required": (
        400,
        "SAML_REQUIRE_ENCRYPTION is on and the assertion is not encrypted",
    ),
    "decryption_failed": (
        400,
        "the encrypted assertion or NameID does not decrypt with SAML_SP_KEY, or not to exactly one element",
    ),
    "unsupported_encryption": (
        400,
        "the encrypted data refers to data elsewhere or uses an XML Encryption feature refused here",
    ),
    "encrypted_name_id": (400, "the NameID is encrypted and no SAML_SP_KEY is configured to decrypt it"),
    # signatures
    "signature_missing": (400, "no signature by the IdP covers the assertion"),
    "signature_invalid": (400, "a signature does not verify with any configured IdP certificate"),
    "weak_algorithm": (400, "SHA-1 or an unknown algorithm was used (see SAML_ALLOW_SHA1)"),
    # protocol
    "status": (400, "the IdP reported a non-Success status"),
    "destination": (400, "Destination is not this ACS URL"),
    "recipient": (400, "SubjectConfirmationData Recipient is not this ACS URL"),
    "audience": (400, "the Audience is not this SP's entity ID"),
    "conditions_missing": (400, "the assertion has no Conditions or no bearer NotOnOrAfter"),
    "subject_confirmation": (400, "no bearer SubjectConfirmation"),
    "expired": (400, "the assertion or response is no longer valid"),
    "not_yet_valid": (400, "the assertion is not valid yet (check clocks, SAML_CLOCK_SKEW)"),
    "issuer": (400, "the Issuer is not the configured IdP entity ID"),
    "in_response_to": (400, "InResponseTo does not match a login started in this browser"),
    "in_response_to_conflict": (
        400,
        "the Response and its bearer SubjectConfirmationData name different requests in InResponseTo",
    ),
    "authn_statement": (
        400,
        "the assertion has no AuthnStatement (it is not a login; see "
        "SAML_ALLOW_MISSING_AUTHN_STATEMENT), or several that disagree",
    ),
    "name_id": (
        400,
        "the NameID is empty or ambiguous, or missing with no e-mail claim to identify the user",
    ),
    "duplicate_attribute": (
        400,
        "an attribute the identity is read from appears twice, or twice with two NameFormats",
    ),
    "unsolicited": (403, "IdP-initiated login is off (SAML_ALLOW_IDP_INITIATED)"),
    "replayed": (400, "this assertion was already used"),
    # single logout (/sls)
    "logout_invalid": (400, "a logout message at the SLS is malformed or not what was expected"),
    "logout_unsigned": (400, "a logout message arrived without the required IdP signature"),
    "logout_in_response_to": (400, "the LogoutResponse does not answer a logout started in this browser"),
    # identity
    "no_email": (403, "no e-mail address found in the signed assertion"),
    "domain_not_allowed": (403, "the e-mail domain is not in SAML_ALLOWED_DOMAINS"),
    "no_user_id": (403, "the assertion lacks the SAML_USER_ID_ATTRIBUTE attribute users are linked on"),
    "unknown_user": (403, "the user is not in the application's user directory"),
    # access rules (docs/access.md): a signed-in user who may not reach a path
    "forbidden": (403, "the user has none of the groups, roles, e-mails or domains the access rule asks for"),
    "groups_overage": (
        403,
        "a group rule applies and the IdP sent a groups link (Entra: over 150 groups) instead of groups",
    ),
    "step_up_required": (401, "the rule's max_auth_age has passed since the IdP authenticated the user"),
    "step_up_failed": (
        403,
        "after a sign-in with ForceAuthn, the IdP's AuthnInstant is still older than max_auth_age",
    ),
    "session_too_large": (
        403,
        "the user's attributes do not fit in a session cookie (4 KB) and SAML_SESSION_OVERFLOW "
        "refuses (no shared SAML_STORE_URL to keep them; see SAML_SESSION_CLAIMS)",
    ),
    # infrastructure
    "sso_not_configured": (503, "no IdP is configured yet: sign-in is being set up (saml-middleware check)"),
    "store_unavailable": (503, "the replay cache / session store cannot be reached"),
    "directory_unavailable": (503, "the user directory failed (database down, hook raised)"),
}


class SAMLMiddlewareError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SAMLMiddlewareError):
    """The configuration is unusable. Lists *every* problem, not just the first.

    :param problems: one human-readable line per problem, naming the variable.

    .. code-block:: python

        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            for line in exc.problems:
                print(line)
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid saml-middleware configuration:\n{lines}")


class ResponseRejected(SAMLMiddlewareError):
    """A SAML message was refused.

    :param reason: a key of :data:`REASONS`; decides the HTTP status.
    :param detail: the precise explanation, for the operator's log only.
    :param email: the e-mail, when the refusal happened after it was read
        from signed content (never sent to the browser except for
        ``unknown_user``, where it tells the user which account is missing).

    .. warning:: ``detail`` may contain values from the message; never show it
       to the browser.
    """

    def __init__(self, reason: str, detail: str = "", *, email: str | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        self.reason = reason
        self.status = REASONS[reason][0]
        self.detail = detail or REASONS[reason][1]
        self.email = email
        super().__init__(f"{reason}: {self.detail}")


class StoreUnavailable(SAMLMiddlewareError):
    """The replay cache or session store could not be reached (fail closed)."""
