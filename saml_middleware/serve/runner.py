"""``saml-middleware run module:app``: serve any ASGI or WSGI app, wrapped, on uvicorn.

>>> detect_interface(lambda environ, start_response: [])
'wsgi'

The app is found by import path (``package.module:attribute``, also
``project.wsgi:application`` for Django), optionally called first (``--factory``), then
wrapped by :class:`~saml_middleware.SAMLMiddleware` (ASGI) or
:class:`~saml_middleware.SAMLWSGIMiddleware` (WSGI, served on a thread pool by a2wsgi, so
``REMOTE_USER`` reaches Django's ``RemoteUserMiddleware``). The same serving code runs
``saml-middleware proxy``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import inspect
import json
import logging
import os
import sys
from typing import Any

import uvicorn
import uvicorn.config
import uvicorn.logging

from ..asgi import SAMLMiddleware
from ..config import Settings
from ..configrules import TARGET_ENV
from ..errors import ConfigError
from ..types import ASGIApp
from .accesslog import AccessLog, asgi_marker, escape_message, wsgi_marker

__all__ = [
    "AppLoadError",
    "add_server_options",
    "build_app",
    "detect_interface",
    "load_app",
    "proxy_command",
    "run_command",
    "serve",
]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class AppLoadError(Exception):
    """The import path does not name a usable app; the message says why."""


def load_app(target: str, *, factory: bool = False, app_dir: str = ".") -> Any:
    """Import ``module:attr.attr`` (``app_dir`` first on ``sys.path``), calling it if ``factory``."""
    module_name, sep, attrs = target.partition(":")
    if not sep or not module_name or not attrs:
        raise AppLoadError(f"expected module:attribute, e.g. myproject.wsgi:application, got {target!r}")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AppLoadError(f"cannot import {module_name!r} (from {path}): {exc}") from exc
        raise
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppLoadError(f"{module_name!r} has no attribute {attrs!r}") from None
    if factory:
        obj = obj()
    if not callable(obj):
        raise AppLoadError(f"{target} is not callable (a factory? pass --factory)")
    return obj


def detect_interface(app: Any) -> str:
    """``"asgi"`` or ``"wsgi"``: coroutine functions and ``async def __call__`` are ASGI;
    otherwise three positional parameters mean ASGI, two mean WSGI."""
    plain = inspect.isfunction(app) or inspect.ismethod(app)
    if inspect.iscoroutinefunction(app if plain else type(app).__call__):
        return "asgi"
    try:
        params = [p for p in inspect.signature(app).parameters.values() if p.kind in _POSITIONAL]
    except (TypeError, ValueError):
        params = []
    if len(params) == 3:
        return "asgi"
    if len(params) == 2:
        return "wsgi"
    raise AppLoadError("cannot tell whether the app is ASGI or WSGI: pass --interface asgi or wsgi")


def build_app(
    app: Any, interface: str = "auto", settings: Settings | None = None, **gate_options: Any
) -> ASGIApp:
    """``app`` wrapped by the middleware, with access logs, as one ASGI app.

    :param gate_options: passed to the middleware (e.g. ``connections=`` a lookup).
    """
    from ..wsgi import SAMLWSGIMiddleware

    if isinstance(app, (SAMLMiddleware, SAMLWSGIMiddleware)):
        raise AppLoadError(
            f"the app is already wrapped by {type(app).__name__}: `saml-middleware run` wraps it "
            "itself, so give it the unwrapped app, or serve this one with uvicorn/gunicorn directly"
        )
    kind = detect_interface(app) if interface == "auto" else interface
    if kind == "asgi":
        return AccessLog(SAMLMiddleware(asgi_marker(app), settings=settings, **gate_options))
    from a2wsgi import WSGIMiddleware

    wrapped = SAMLWSGIMiddleware(wsgi_marker(app), settings=settings, **gate_options)
    return AccessLog(WSGIMiddleware(wrapped))  # type: ignore[arg-type]


def app_from_spec(spec: dict[str, Any]) -> ASGIApp:
    """The wrapped app ``spec`` describes (``mode`` ``"run"`` or ``"proxy"``), ready to serve."""
    if spec["mode"] == "proxy":
        from .proxy import proxy_app

        return proxy_app(spec["upstream"])
    app = load_app(spec["app"], factory=spec["factory"], app_dir=spec["app_dir"])
    return build_app(app, spec["interface"])


def app_from_env() -> ASGIApp:
    """The factory uvicorn's worker processes call (``--workers`` > 1)."""
    return app_from_spec(json.loads(os.environ[TARGET_ENV]))


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The uvicorn options shared by ``run`` and ``proxy``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes (each checks cookies alone)")
    parser.add_argument("--root-path", default="", help="ASGI root_path when mounted under a sub-path")
    parser.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies trusted for X-Forwarded-For/-Proto (comma-separated, '*' for all)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.add_argument(
        "--http",
        default="auto",
        choices=["auto", "h11", "httptools"],
        help="uvicorn's HTTP/1.1 parser (auto: httptools when installed, else h11)",
    )


class EscapingFormatter(uvicorn.logging.DefaultFormatter):
    """uvicorn's formatter with every message on one line: control characters escaped
    (:func:`~saml_middleware.serve.accesslog.escape_message`). A traceback still follows its record."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_message(record.message)
        return super().formatMessage(record)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus ``saml_middleware`` records and our access log (stdout)."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["default"]["()"] = "saml_middleware.serve.runner.EscapingFormatter"
    config["handlers"]["saml_access"] = {
        "formatter": "default",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["saml_middleware"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["saml_middleware.access"] = {
        "handlers": ["saml_access"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def serve(spec: dict[str, Any], args: argparse.Namespace) -> int:
    """Check the configuration and the app of ``spec`` in this process, then serve on uvicorn.

    With ``--workers`` > 1 each worker builds the app again from ``spec`` (:func:`app_from_env`).
    """
    try:
        app = app_from_spec(spec)
    except (ConfigError, AppLoadError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "root_path": args.root_path,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "proxy_headers": args.forwarded_allow_ips is not None,
        "access_log": False,
        "log_config": log_config(),
        "log_level": args.log_level,
        "http": getattr(args, "http", "auto"),
    }
    if args.workers > 1:
        os.environ[TARGET_ENV] = json.dumps(spec)
        uvicorn.run(
            "saml_middleware.serve.runner:app_from_env", factory=True, workers=args.workers, **options
        )
    else:
        uvicorn.run(app, **options)
    return 0


def run_command(args: argparse.Namespace) -> int:
    """``saml-middleware run``."""
    spec = {
        "mode": "run",
        "app": args.app,
        "factory": args.factory,
        "interface": args.interface,
        "app_dir": os.path.abspath(args.app_dir),
    }
    return serve(spec, args)


def proxy_command(args: argparse.Namespace) -> int:
    """``saml-middleware proxy URL``."""
    return serve({"mode": "proxy", "upstream": args.upstream}, args)
