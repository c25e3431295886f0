"""docs/configuration.md lists every variable: a setting added without its row fails here."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from saml_middleware.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_has_a_row_in_the_configuration_reference() -> None:
    # a row's first cell names one variable or several (`SAML_SP_KEY_NEXT`, `SAML_SP_CERT_NEXT`)
    cells = [line.split("|")[1] for line in DOC.read_text().splitlines() if line.startswith("| `SAML_")]
    documented = {name.strip().strip("`") for cell in cells for name in cell.split(",")}
    variables = [f"SAML_{f.name.upper()}" for f in fields(Settings)]
    assert [name for name in variables if name not in documented] == []
