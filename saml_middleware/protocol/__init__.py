"""SAML in, values out: the only layer that touches XML (lxml, xmlsec) and pysaml2.

``xml`` (hardened parsing), ``signatures`` (XML-DSig verification, the
metadata's own signature), ``checks`` / ``envelope`` / ``subject``
(the response checks), ``decrypt`` / ``xmlenc``, ``identity`` / ``attributes``
(who signed in), ``sp`` (the ServiceProvider, the one module importing
``saml2``), ``logout`` (single logout messages), ``metadata`` (IdP metadata)
and ``keys`` (key-pair generation). It never imports starlette, httpx or any
layer above it.
"""
