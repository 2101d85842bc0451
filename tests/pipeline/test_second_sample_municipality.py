"""Issue 11, "Done when": a second sample municipality in ``examples/`` runs end to end. Markt Beispielheim
(``examples/beispielheim``: Bavaria, its own Gemeindeschlüssel, court, accounts, design folder and register)
with four departments whose exports need the mapping language's features (docs/mapping-profiles.md).
The sample city's side (nothing of Beispielheim in Musterstadt's letters) is covered by
test_second_municipality_renders_in_its_own_design and tests/documents/test_municipality_identity_on_every_page.
"""
from __future__ import annotations

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "beispielheim"
DEPARTMENTS = ("bauhof", "kita", "friedhof", "wasser")


def test_beispielheim_s_configuration_loads_with_its_own_design_register_and_profiles():
    from erechnung.intake import import_recipients_csv, load_config, load_profiles
    from erechnung.intake.recipients import RecipientKind

    config = load_config(EXAMPLE / "config.toml")
    town = config.municipality
    assert (town.name, town.municipality_key[:2], config.delivery.land) == ("Markt Beispielheim", "09", "BY")
    assert town.court.name == "Bayerisches Verwaltungsgericht Regensburg"
    assert [a.iban for a in town.bank_accounts.values()] == ["DE14750690140002051007", "DE70750500000004471120"]

    design = config.design()  # its own folder, every placeholder filled from its [municipality]
    assert design.letterhead.name == "Markt Beispielheim"
    assert design.letterhead.logo == EXAMPLE / "design" / "wappen.png" and design.letterhead.logo.is_file()
    assert design.bank.iban.replace(" ", "") == "DE14750690140002051007"
    for part in (EXAMPLE / "design").glob("*.toml"):
        assert "Musterstadt" not in part.read_text(encoding="utf-8"), part

    assert sorted(load_profiles(config)) == sorted(DEPARTMENTS)
    assert {k: d.drop_zone.path for k, d in config.departments.items()} == {
        d: f"var/dropzones/{d}" for d in DEPARTMENTS}

    imported = import_recipients_csv(config.path(config.recipients).read_bytes(), "recipients.csv")
    assert not imported.errors
    people = {r.customer_number: r for r in imported.register}
    assert len(people) == 5
    (business,) = [r for r in people.values() if r.kind == RecipientKind.COMPANY]
    assert business.email and business.vat_id
    assert any(r.kind == RecipientKind.CITIZEN and not r.email for r in people.values())
