"""Return paths hidden under several layers of percent-encoding, their length, and public prefixes.

A return path is decoded layer by layer until nothing is left to decode, and judged at every
layer, so ``//evil`` encoded three, four or seven times is still ``//evil``; whatever the layers,
after the login the browser is sent to a path on this site. Both adapters, a real login each time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import Flow

TRIPLE = [
    "/%25252F%25252Fevil.example",  # //evil.example, encoded three times
    "/%25252f%25252fevil.example/x",
    "/%25255Cevil.example",  # /\evil.example
    "/%25250d%25250aSet-Cookie:x",  # CR LF
    "/%252F%252Fevil.example",  # twice
    "/%2F%2Fevil.example",  # once
]
DEEPER = [
    "/%2525252F%2525252Fevil.example",  # //evil.example, encoded four times
    "/%252525252525252F%252525252525252Fevil.example",  # seven times
    "/%2525255Cevil.example",  # /\evil.example, four times
    "/%252525250d%252525250aSet-Cookie:x",  # CR LF, five times
]


@pytest.mark.parametrize("evil", TRIPLE + DEEPER)
def test_encoded_return_path_through_saml_login_lands_on_the_default(
    start_flow: Callable[..., Flow], evil: str
) -> None:
    flow = start_flow(next_path=evil)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location="/")


@pytest.mark.parametrize("evil", TRIPLE[:4])
def test_encoded_deep_link_lands_on_the_default(start_flow: Callable[..., Flow], evil: str) -> None:
    flow = start_flow(evil)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location="/")


def test_an_encoded_path_that_is_not_a_trick_is_kept(start_flow: Callable[..., Flow]) -> None:
    """Positive control: ``%252F`` that decodes to an ordinary path segment stays as it was."""
    kept = "/files/a%252Fb%20c"
    flow = start_flow(next_path=kept)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location=kept)


@pytest.mark.parametrize(("length", "kept"), [(2048, True), (2049, False)])
def test_a_return_path_is_at_most_2048_characters(
    start_flow: Callable[..., Flow], length: int, kept: bool
) -> None:
    path = "/" + "a" * (length - 1)
    flow = start_flow(next_path=path)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location=path if kept else "/")


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/public", True),
        ("/public/x/y", True),
        ("/publicity", False),
        ("/static/app.css", True),
        ("/static", False),
        ("/FAX/form", True),
        ("/FA/form", False),
    ],
)
def test_a_public_prefix_covers_the_paths_below_it_only(
    make_app, browser_factory, path: str, public: bool
) -> None:
    """``SAML_PUBLIC_PATHS=/public,/static/,/FAX``: a trailing slash on a prefix changes nothing."""
    app, seen = make_app(public_paths=("/public", "/static/", "/FAX"))
    response = browser_factory(app).get(path)
    if public:
        assert response.status_code == 200 and seen.calls[0]["user"] is None
    else:
        assert response.status_code == 302 and seen.calls == []
