"""Operating the middleware: the setup page, Prometheus metrics, the audit log,
certificate expiry and the configuration check. Built from values (settings,
the IdP view, sessions, a clock); never imports the gate."""
