"""Serving: the uvicorn runner (``run``), the authenticated reverse proxy
(``proxy``, HTTP and WebSocket) and the access log."""
