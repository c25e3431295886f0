"""Keeping the IdP from ``SAML_IDP_METADATA_URL`` fresh: Entra's certificate rollover without a restart.

The metadata is loaded at start (:func:`load_idp`, from a URL, a file or inline XML), then again

* every ``SAML_IDP_METADATA_REFRESH`` seconds: the check is made when a login
  starts or a response reaches the ACS, against the injected clock, and the
  fetch runs in the worker thread already handling that request (never on
  the event loop), so tests are deterministic and an idle app makes no calls;
* when a response's signature does not verify with any known certificate
  (the IdP may have made a new certificate active), at most once a minute;
  the response is then checked again with the refreshed certificates.

A fetch that fails, or metadata that does not parse or (with
``SAML_IDP_METADATA_CERT``) is not properly signed, keeps the last good copy
and logs a warning; the next attempt comes after at most five minutes.

A connection's metadata URL (many tenants) was typed by a customer, so its gate fetches it,
at start and at every refresh, with the SSRF-guarded
:func:`~saml_middleware.connections.safefetch.fetch_public_metadata` (passed as ``fetch``);
``SAML_IDP_METADATA_URL``, set by the operator, keeps :func:`fetch_metadata`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from ..config import Settings
from ..connections.safefetch import FetchRefused
from ..errors import ConfigError, ResponseRejected
from ..masking import redact
from ..protocol.metadata import IdPInfo, idp_from_metadata, manual_binding

if TYPE_CHECKING:
    from ..protocol.sp import ServiceProvider

__all__ = ["FAILURE_INTERVAL", "RETRY_INTERVAL", "MetadataRefresher", "fetch_metadata", "load_idp"]

logger = logging.getLogger("saml_middleware")
T = TypeVar("T")
#: At most one refresh triggered by signature failures per this many seconds.
FAILURE_INTERVAL = 60.0
#: After a failed refresh, try again after this many seconds (or the refresh period if shorter).
RETRY_INTERVAL = 300.0


def fetch_metadata(url: str, *, timeout: float = 10.0) -> bytes:
    """GET the metadata at ``url`` (redirects followed). :raises httpx.HTTPError:"""
    resp = httpx.get(url, timeout=timeout, follow_redirects=True)
    resp.raise_for_status()
    return resp.content


def fetch_problem(exc: Exception) -> str:
    """What went wrong loading metadata, in one line, with the fix where there is one.

    >>> fetch_problem(FileNotFoundError(2, "No such file or directory", "idp.xml"))
    "[Errno 2] No such file or directory: 'idp.xml'"
    """
    if isinstance(exc, httpx.HTTPStatusError):
        hint = (
            ": copy the whole App Federation Metadata Url again (Entra: Single sign-on, SAML "
            "Certificates), with its ?appid=... part"
            if exc.response.status_code in (400, 401, 403, 404)
            else ""
        )
        return f"the server answered HTTP {exc.response.status_code}{hint}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "not an http(s) URL: give the whole URL, starting with https://"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time: check that this machine can reach the host (proxy, firewall)"
    if isinstance(exc, httpx.ConnectError):
        return (
            f"cannot connect ({(str(exc) or 'refused').splitlines()[0]}): check the host name and "
            "that this machine can reach it (DNS, proxy, firewall)"
        )
    return (str(exc) or type(exc).__name__).splitlines()[0]


def load_idp(
    settings: Settings,
    *,
    fetch: bool = True,
    fetcher: Callable[[str], bytes] = fetch_metadata,
    connection: str = "",
) -> IdPInfo:
    """Resolve the IdP from settings: metadata (URL, file or inline) and/or manual values.

    Manual values override what the metadata says, and ``SAML_IDP_CERT``
    certificates are added to the metadata's (useful during a rollover).

    :param fetch: allow fetching ``SAML_IDP_METADATA_URL`` over the network.
    :param fetcher: how to fetch it (tests replace it; a connection's gate passes the SSRF guard).
    :param connection: a connection's settings: problems name its ``idp_metadata_url``.
    :raises ConfigError: naming the variable and what is wrong with it.
    """
    xml: bytes | None = None
    source = ""
    try:
        if settings.idp_metadata:
            source, xml = "SAML_IDP_METADATA", settings.idp_metadata.encode()
        elif settings.idp_metadata_file:
            source = "SAML_IDP_METADATA_FILE"
            with open(settings.idp_metadata_file, "rb") as fh:
                xml = fh.read()
        elif settings.idp_metadata_url and fetch:
            source = "idp_metadata_url" if connection else "SAML_IDP_METADATA_URL"
            xml = fetcher(settings.idp_metadata_url)
    except (OSError, httpx.HTTPError, FetchRefused) as exc:
        file = source == "SAML_IDP_METADATA_FILE"
        where = settings.idp_metadata_file if file else settings.idp_metadata_url
        why = fetch_problem(exc)
        raise ConfigError(
            [f"{source}: cannot load the IdP metadata from {redact(str(where))}: {redact(why)}"]
        ) from None
    if xml is None:
        binding = manual_binding(settings)  # SAML_AUTHN_REQUEST_BINDING=post, else HTTP-Redirect
        return IdPInfo(
            settings.idp_entity_id, settings.idp_sso_url, settings.idp_cert, None, binding, binding
        )
    try:
        return idp_from_metadata(settings, xml)
    except ValueError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None


class MetadataRefresher:
    """Refreshes ``sp``'s IdP from ``SAML_IDP_METADATA_URL``.

    :param settings: the configuration (URL, period, ``SAML_IDP_METADATA_CERT``).
    :param sp: the service provider whose IdP is replaced (:meth:`ServiceProvider.use_idp`).
    :param clock: epoch seconds; tests freeze and advance it.
    :param fetch: ``url -> bytes``; raises ``httpx.HTTPError``, ``OSError`` or ``FetchRefused``.
    :param connection: the connection whose metadata this is (named in the log), or ``""``.

    >>> refresher = MetadataRefresher(settings, sp, clock=time.time)          # doctest: +SKIP
    >>> verified = refresher.guard(lambda: sp.process_response(b64, req_id))  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings,
        sp: ServiceProvider,
        *,
        clock: Callable[[], float],
        fetch: Callable[[str], bytes] = fetch_metadata,
        connection: str = "",
    ) -> None:
        if not settings.idp_metadata_url:
            raise ValueError("MetadataRefresher needs SAML_IDP_METADATA_URL")
        self.settings = settings
        self.sp = sp
        self.clock = clock
        self.fetch = fetch
        self.source = f"connection {connection}" if connection else "SAML_IDP_METADATA_URL"
        self._lock = threading.Lock()
        self.next_due = clock() + settings.idp_metadata_refresh
        self._last_forced = float("-inf")
        #: for the metrics (ops/operations.py): last successful load, failed refreshes so far
        self.loaded_at = clock()
        self.failures = 0

    def refresh_if_due(self) -> None:
        """Refresh when the period has passed (cheap when it has not)."""
        if self.clock() >= self.next_due:
            self.refresh()

    def refresh(self) -> bool:
        """Fetch the metadata now; ``True`` when the IdP changed.

        Never raises: a failure keeps the last good copy and logs a warning.
        Skipped (``False``) while another thread is refreshing.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            period = self.settings.idp_metadata_refresh
            try:
                idp = idp_from_metadata(self.settings, self.fetch(self.settings.idp_metadata_url))
            except (httpx.HTTPError, OSError, ValueError) as exc:
                self.next_due = self.clock() + min(RETRY_INTERVAL, period)
                self.failures += 1
                logger.warning(
                    "%s: refresh from %s failed, keeping the last good metadata: %s",
                    self.source,
                    redact(self.settings.idp_metadata_url or ""),
                    redact(fetch_problem(exc)),
                    extra={"saml_event": "metadata_refresh_failed"},
                )
                return False
            self.next_due = self.clock() + period
            self.loaded_at = self.clock()
            if idp == self.sp.idp:
                return False
            self.sp.use_idp(idp)
            logger.info(
                "%s: IdP metadata changed, now %d signing certificate(s)",
                self.source,
                len(idp.certificates),
                extra={"saml_event": "metadata_refreshed"},
            )
            return True
        finally:
            self._lock.release()

    def after_signature_failure(self) -> bool:
        """Refresh because a signature did not verify, at most once per :data:`FAILURE_INTERVAL`."""
        now = self.clock()
        if now - self._last_forced < FAILURE_INTERVAL:
            return False
        self._last_forced = now
        return self.refresh()

    def guard(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (a response check); on ``signature_invalid``, refresh and try once more."""
        self.refresh_if_due()
        try:
            return attempt()
        except ResponseRejected as exc:
            if exc.reason != "signature_invalid" or not self.after_signature_failure():
                raise
        return attempt()
