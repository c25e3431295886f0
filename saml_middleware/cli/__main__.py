"""``python -m saml_middleware.cli``: the ``saml-middleware`` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
