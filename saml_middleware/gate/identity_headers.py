"""Identity headers: who the user is, as HTTP headers for an upstream or for nginx ``auth_request``.

Any header a client sends that could be taken for one of these (every ``X-Remote-*`` in any
case, and the configured names, compared after mapping ``_`` to ``-``, because WSGI servers
turn both into ``HTTP_X_REMOTE_USER``) is removed before a request goes upstream: see
:meth:`IdentityHeaders.is_identity`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..access import AccessPolicy
from ..access.rules import group_key
from ..config import Settings
from ..errors import ConfigError
from ..user import SAMLUser

__all__ = ["ATTRIBUTE_PREFIX", "GROUPS_HEADER", "GROUPS_HEADER_MAX", "TENANT_HEADER", "IdentityHeaders"]

#: With connections (``SAML_CONNECTIONS``): the tenant of the user's connection (``SAMLUser.tenant``).
TENANT_HEADER = "X-Remote-Tenant"

#: Attributes chosen by ``SAML_HEADER_ATTRIBUTES`` travel as ``X-Remote-Attr-<Name>``.
ATTRIBUTE_PREFIX = "X-Remote-Attr-"
#: The user's groups (``SAML_HEADER_GROUPS``), comma-separated; ``,`` and ``%`` inside a group
#: name are percent-encoded (``%2C``, ``%25``).
GROUPS_HEADER = "X-Remote-Groups"
#: At most this many bytes of groups: whole groups beyond it are left out, and
#: ``X-Remote-Groups-Truncated: true`` says so (nginx's default limit is 4 KB per header line).
GROUPS_HEADER_MAX = 4096
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normal_name(name: str) -> str:
    """A header name as a WSGI server or framework may read it: lower case, ``_`` as ``-``.

    >>> normal_name("X_Remote_User")
    'x-remote-user'
    """
    return name.lower().replace("_", "-")


def attribute_header(name: str) -> str:
    """The header an attribute travels in: ``given_name`` -> ``X-Remote-Attr-Given-Name``.

    Only letters and digits survive (nginx drops headers with underscores by default).
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.rsplit("/", 1)[-1]) if w]
    return ATTRIBUTE_PREFIX + "-".join(w[:1].upper() + w[1:] for w in words)


def header_value(value: str) -> str:
    """A header-safe value: control characters dropped, UTF-8 bytes carried as latin-1 text."""
    return _CONTROL.sub("", value).encode("utf-8").decode("latin-1")


def _groups_choice(settings: Settings, problems: list[str]) -> tuple[str, frozenset[str]]:
    """``SAML_HEADER_GROUPS``: ``all`` (default), ``none``, ``rules`` (the groups named by
    ``SAML_ALLOWED_GROUPS`` and the access rules), or a list of group ids/names to pass."""
    chosen = tuple(settings.header_groups) or ("none",)
    keywords = {"all", "none", "rules"}
    if len(chosen) > 1 and keywords & {c.lower() for c in chosen}:
        problems.append("SAML_HEADER_GROUPS: all, rules or none stand alone (or list the groups to pass)")
        return "none", frozenset()
    if len(chosen) == 1 and chosen[0].lower() in ("all", "none"):
        return chosen[0].lower(), frozenset()
    if len(chosen) == 1 and chosen[0].lower() == "rules":
        try:
            named = AccessPolicy.from_settings(settings).rule_groups
        except ConfigError:
            named = frozenset()  # the gate reports the rules file's problems
        return "only", frozenset(group_key(g) for g in named)
    return "only", frozenset(group_key(g) for g in chosen)


class IdentityHeaders:
    """The identity headers configured by ``SAML_HEADER_*``.

    :param settings: ``header_user``, ``header_email``, ``header_name`` name the headers;
        ``header_attributes`` lists attributes exported as ``X-Remote-Attr-<Name>``;
        ``header_groups`` chooses the groups sent in ``X-Remote-Groups``.
    :raises ConfigError: when a header name is not a valid HTTP token.
    """

    def __init__(self, settings: Settings) -> None:
        names = {
            "SAML_HEADER_USER": settings.header_user,
            "SAML_HEADER_EMAIL": settings.header_email,
            "SAML_HEADER_NAME": settings.header_name,
        }
        problems = [
            f"{var} must be an HTTP header name, got {v!r}" for var, v in names.items() if not _TOKEN.match(v)
        ]
        self.attributes = [(a, attribute_header(a)) for a in settings.header_attributes]
        problems += [
            f"SAML_HEADER_ATTRIBUTES: {a!r} has no letters or digits"
            for a, h in self.attributes
            if h == ATTRIBUTE_PREFIX
        ]
        self._groups_mode, self._only = _groups_choice(settings, problems)
        if problems:
            raise ConfigError(problems)
        self.user, self.email, self.name = settings.header_user, settings.header_email, settings.header_name
        self._reserved = frozenset(normal_name(n) for n in (self.user, self.email, self.name))

    def for_user(self, user: SAMLUser) -> list[tuple[str, str]]:
        """The headers describing ``user`` (multi-valued attributes joined by ``, ``); with
        connections also :data:`TENANT_HEADER`."""
        out = [
            (self.user, header_value(user.email)),
            (self.email, header_value(user.email)),
            (self.name, header_value(user.display_name)),
        ]
        if user.tenant:
            out.append((TENANT_HEADER, header_value(user.tenant)))
        for attribute, header in self.attributes:
            values = user.attributes.get(attribute)
            if values:
                out.append((header, header_value(", ".join(values))))
        if self._groups_mode != "none":
            out += self.groups(user)
        return out

    def groups(self, user: SAMLUser) -> list[tuple[str, str]]:
        """``X-Remote-Groups`` (and ``X-Remote-Groups-Truncated``) for ``user``, as chosen by
        ``SAML_HEADER_GROUPS``; none when the user has no group to pass."""
        groups = user.groups
        if self._groups_mode == "only":
            groups = tuple(g for g in groups if group_key(g) in self._only)
        kept: list[str] = []
        size = 0
        for group in groups:
            value = header_value(group).replace("%", "%25").replace(",", "%2C")
            if size + len(value) + 1 > GROUPS_HEADER_MAX:
                return [(GROUPS_HEADER, ",".join(kept)), (GROUPS_HEADER + "-Truncated", "true")]
            kept.append(value)
            size += len(value) + 1
        return [(GROUPS_HEADER, ",".join(kept))] if kept else []

    def is_identity(self, name: str) -> bool:
        """True for any header a client must not be able to send upstream (any case, ``_`` or ``-``)."""
        low = normal_name(name)
        return low.startswith("x-remote-") or low in self._reserved

    def strip(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """ASGI header pairs without any identity header."""
        return [(k, v) for k, v in headers if not self.is_identity(k.decode("latin-1"))]
