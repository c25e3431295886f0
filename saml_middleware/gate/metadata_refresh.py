"""Keeping the IdP from ``SAML_IDP_METADATA_URL`` fresh: Entra's certificate rollover without a restart.

The metadata is fetched at start (``idp.load_idp``), then again

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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx

from ..config import Settings
from ..errors import ResponseRejected
from ..masking import redact
from ..protocol.metadata import fetch_metadata, idp_from_metadata

if TYPE_CHECKING:
    from ..protocol.sp import ServiceProvider

__all__ = ["FAILURE_INTERVAL", "RETRY_INTERVAL", "MetadataRefresher"]

logger = logging.getLogger("saml_middleware")
T = TypeVar("T")
#: At most one refresh triggered by signature failures per this many seconds.
FAILURE_INTERVAL = 60.0
#: After a failed refresh, try again after this many seconds (or the refresh period if shorter).
RETRY_INTERVAL = 300.0


class MetadataRefresher:
    """Refreshes ``sp``'s IdP from ``SAML_IDP_METADATA_URL``.

    :param settings: the configuration (URL, period, ``SAML_IDP_METADATA_CERT``).
    :param sp: the service provider whose IdP is replaced (:meth:`ServiceProvider.use_idp`).
    :param clock: epoch seconds; tests freeze and advance it.
    :param fetch: ``url -> bytes``; raises ``httpx.HTTPError`` or ``OSError`` on failure.

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
    ) -> None:
        if not settings.idp_metadata_url:
            raise ValueError("MetadataRefresher needs SAML_IDP_METADATA_URL")
        self.settings = settings
        self.sp = sp
        self.clock = clock
        self.fetch = fetch
        self._lock = threading.Lock()
        self.next_due = clock() + settings.idp_metadata_refresh
        self._last_forced = float("-inf")
        #: for the metrics (operations.py): last successful load, failed refreshes so far
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
                    "SAML_IDP_METADATA_URL: refresh from %s failed, keeping the last good metadata: %s",
                    redact(self.settings.idp_metadata_url or ""),
                    redact(str(exc) or type(exc).__name__),
                    extra={"saml_event": "metadata_refresh_failed"},
                )
                return False
            self.next_due = self.clock() + period
            self.loaded_at = self.clock()
            if idp == self.sp.idp:
                return False
            self.sp.use_idp(idp)
            logger.info(
                "SAML_IDP_METADATA_URL: IdP metadata changed, now %d signing certificate(s)",
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
