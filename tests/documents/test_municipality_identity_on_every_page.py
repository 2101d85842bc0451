"""Issue 11, "A second municipality": everything a letter shows about its sender comes from the configuration.

Two municipalities, configured differently (name, head, address, contact, bank account, Land, court, and a
design folder with another logo, colour and footer), render every document kind people read: the ZUGFeRD
invoice and the notice. Neither PDF's text holds anything of the other municipality, and the only bank
account shown is the configured one (before, every PDF carried the sample city's letterhead, footer and
account, beside the configured IBAN in the payment block).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from erechnung.builder import build_invoice, customer, item_line, municipality
from erechnung.config.design import DEFAULT_DIR
from erechnung.documents.hybrid import make_hybrid
from erechnung.config import ConfigError, load_config
from erechnung.notices import NoticeDraft, assess
from erechnung.notices.config import load_config as load_notice_config
from erechnung.notices.render import render_notice

ROOT = Path(__file__).resolve().parents[2]
NOTICE_SAMPLE = ROOT / "examples" / "notices" / "hundesteuerbescheid.json"

#: The second municipality: a Bavarian market town; every value differs from the sample city's.
BEISPIELHEIM = {
    'name = "Stadt Musterstadt"': 'name = "Markt Beispielheim"',
    'head = "Der Bürgermeister"': 'head = "Der Erste Bürgermeister"',
    'municipality_key = "05999001"': 'municipality_key = "09375999"',
    'website = "www.musterstadt.example"': 'website = "www.beispielheim.example"',
    'opening_hours = "Mo–Fr 8–12 Uhr, Do 14–18 Uhr"': 'opening_hours = "Di und Fr 9–11 Uhr"',
    'street = "Rathausplatz 1"': 'street = "Marktplatz 7"',
    'post_code = "12345"\ncity = "Musterstadt"': 'post_code = "93333"\ncity = "Beispielheim"',
    'street = "Postfach 10 01 00"\npost_code = "12301"\ncity = "Musterstadt"':
        'street = "Postfach 11"\npost_code = "93331"\ncity = "Beispielheim"',
    'name = "Verwaltungsgericht Musterstadt"': 'name = "Bayerisches Verwaltungsgericht Regensburg"',
    'address = "Justizplatz 1, 12345 Musterstadt"': 'address = "Haidplatz 1, 93047 Regensburg"',
    'name = "Stadtkasse Musterstadt"': 'name = "Marktkasse Beispielheim"',
    'phone = "+49 1234 567-0"': 'phone = "+49 9444 12-0"',
    'email = "stadtkasse@musterstadt.example"': 'email = "kasse@beispielheim.example"',
    'iban = "DE02120300000000202051"': 'iban = "DE89370400440532013000"',
    'bic = "BYLADEM1001"': 'bic = "COBADEFFXXX"',
    'bank_name = "Musterbank Musterstadt"': 'bank_name = "Raiffeisenbank Beispielheim"',
    'account_holder = "Stadtkasse Musterstadt"': 'account_holder = "Marktkasse Beispielheim"',
    'land = "NW"': 'land = "BY"',
    'vat_id = "DE123456789"': 'vat_id = "DE287654321"',
    'tax_number = "123/456/78901"': 'tax_number = "181/815/08155"',
}


@dataclass(frozen=True)
class Town:
    config: object
    identity: tuple[str, ...]  # what a reader sees of this municipality and nowhere else


def _sample_config_text(root: Path) -> str:
    from erechnung.entrypoints.demo.pipeline import config_text

    return config_text(root)


def _beispielheim_design(folder: Path) -> Path:
    """The package's neutral design, restyled: another colour, a logo of its own, another footer line."""
    from PIL import Image

    shutil.copytree(DEFAULT_DIR, folder)
    Image.new("RGB", (40, 40), (139, 0, 0)).save(folder / "wappen.png")
    toml = (folder / "design.toml").read_text(encoding="utf-8")
    toml = (toml.replace('primary = "#333333"', 'primary = "#8B0000"')
                .replace('# logo = "logo.png"', 'logo = "wappen.png"')
                .replace('["{phone}", "{email}", "{website}"]', '["{phone}", "{email}", "{website}", "{opening_hours}"]'))
    (folder / "design.toml").write_text(toml, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def towns(tmp_path_factory) -> dict[str, Town]:
    root = tmp_path_factory.mktemp("towns")
    a_dir, b_dir = root / "musterstadt", root / "beispielheim"
    a_dir.mkdir()
    b_dir.mkdir()
    a_text = _sample_config_text(a_dir)
    (a_dir / "config.toml").write_text(a_text, encoding="utf-8")
    b_text = re.sub(r'design = "[^"]*"', 'design = "gestaltung"', a_text)
    for old, new in BEISPIELHEIM.items():
        assert old in b_text, old
        b_text = b_text.replace(old, new)
    _beispielheim_design(b_dir / "gestaltung")
    (b_dir / "config.toml").write_text(b_text, encoding="utf-8")
    return {
        "musterstadt": Town(load_config(a_dir / "config.toml"), (
            "Stadt Musterstadt", "Der Bürgermeister", "Rathausplatz 1", "Musterstadt", "12345",
            "DE02120300000000202051", "BYLADEM1001", "Verwaltungsgericht Musterstadt", "Justizplatz",
            "musterstadt.example", "567-0")),
        "beispielheim": Town(load_config(b_dir / "config.toml"), (
            "Markt Beispielheim", "Der Erste Bürgermeister", "Marktplatz 7", "Beispielheim", "93333",
            "DE89370400440532013000", "COBADEFFXXX", "Bayerisches Verwaltungsgericht Regensburg", "Haidplatz",
            "beispielheim.example", "9444", "Di und Fr 9–11 Uhr")),
    }


def _invoice(cfg):
    """An invoice of the configured municipality to a customer that belongs to neither."""
    m, account = cfg.municipality, cfg.municipality.default_account
    seller = municipality(m.name, street=m.address.street, post_code=m.address.post_code, city=m.address.city,
                          contact_name=m.contact.name, contact_phone=m.contact.phone, contact_email=m.contact.email,
                          electronic_address=m.electronic_address, vat_id=m.vat_id, tax_number=m.tax_number,
                          legal_registration_id=m.municipality_key)
    buyer = customer("Bauunternehmen Schmidt GmbH", street="Industriestr. 7", post_code="50667", city="Köln",
                     electronic_address="buchhaltung@schmidt-bau.example", vat_id="DE987654321")
    return build_invoice(number="RE-2026-000001", issue_date=date(2026, 11, 2), seller=seller, buyer=buyer,
                         leitweg_id="991-33333TEST-33", iban=account.iban, bic=account.bic,
                         account_name=account.account_holder, kassenzeichen="5.0120.000001.3",
                         due_date=date(2026, 12, 2),
                         lines=[item_line("Miete Halle", 2, "450.00", vat_rate=19, unit_code="DAY")])


def _notice(cfg, notice_config):
    """The sample dog tax notice, issued by the configured municipality to an addressee of neither."""
    data = json.loads(NOTICE_SAMPLE.read_text(encoding="utf-8"))
    m, account = cfg.municipality, cfg.municipality.default_account
    data["authority"] = {
        "name": m.name, "head": m.head, "office": "Steueramt",
        "address": {"street": m.address.street, "post_code": m.address.post_code, "city": m.address.city},
        "phone": m.contact.phone, "email": m.contact.email, "website": m.website, "opening_hours": m.opening_hours,
        "municipality_key": m.municipality_key, "electronic_address": m.electronic_address}
    data["official"] = {"name": "Alex Beispiel"}
    data["addressee"] = {"name": "Erika Mustermann", "salutation": "Sehr geehrte Frau Mustermann,",
                         "address": {"street": "Am Weg 3", "post_code": "50667", "city": "Köln"},
                         "electronic_address": "erika@example.org"}
    data["legal_basis"] = ["§§ 1, 2 der Hundesteuersatzung"]
    data["payment"] = {"kassenzeichen": "5.0200.100204.2", "accounts": [
        {"iban": account.iban, "bic": account.bic, "bank_name": account.bank_name,
         "account_holder": account.account_holder}]}
    return assess(NoticeDraft.model_validate(data), notice_config)


def _text(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


def _documents(town: Town) -> dict[str, bytes]:
    cfg = town.config
    design = cfg.design()
    notice_config = load_notice_config(design.source.parent).for_municipality(dict(design.values))
    return {"zugferd": make_hybrid(_invoice(cfg), "EN16931", design),
            "notice": render_notice(_notice(cfg, notice_config), design, notice_config)}


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("this,other", [("musterstadt", "beispielheim"), ("beispielheim", "musterstadt")])
def test_every_document_shows_its_own_municipality_and_nothing_of_another(towns, tmp_path, this, other):
    for kind, pdf in _documents(towns[this]).items():
        text = _text(pdf, tmp_path, f"{this}-{kind}")
        for own in (towns[this].config.municipality.name, towns[this].config.municipality.head):
            assert _squeeze(own) in text, f"{kind} of {this} does not show {own!r}"
        leaked = [s for s in towns[other].identity if _squeeze(s) in text]
        assert not leaked, f"the {kind} of {this} shows {other}'s {leaked}"
        ibans = set(re.findall(r"DE\d{20}", re.sub(r"(DE\d\d)((?:\d{4}){4}\d\d)", r"\1\2", text)))
        own_iban = towns[this].config.municipality.default_account.iban
        assert ibans == {own_iban}, f"the {kind} of {this} shows the accounts {ibans}, configured: {own_iban}"


def test_a_bavarian_municipalitys_notice_names_its_configured_court(towns, tmp_path):
    text = _text(_documents(towns["beispielheim"])["notice"], tmp_path, "by-notice")
    assert _squeeze("Bayerisches Verwaltungsgericht Regensburg, Haidplatz 1, 93047 Regensburg") in text
    assert "Musterstadt" not in text
    assert "Widerspruch" in text  # Bavaria keeps an optional Widerspruch (Art. 12 AGVwGO, appeal_law.toml)


def test_the_second_municipalitys_design_folder_gives_its_logo_and_colour(towns):
    design = towns["beispielheim"].config.design()
    assert design.letterhead.logo is not None and design.letterhead.logo.name == "wappen.png"
    assert design.colors.primary == "#8B0000"
    assert towns["musterstadt"].config.design().colors.primary != "#8B0000"


def test_a_design_placeholder_that_names_no_configuration_key_is_refused_at_load(towns, tmp_path):
    folder = _beispielheim_design(tmp_path / "design")
    toml = (folder / "design.toml").read_text(encoding="utf-8")
    (folder / "design.toml").write_text(toml.replace('lines = ["{head}"]', 'lines = ["{buergermeister}"]'),
                                        encoding="utf-8")
    text = (towns["beispielheim"].config.base_dir and
            (Path(towns["beispielheim"].config.source)).read_text(encoding="utf-8"))
    (tmp_path / "config.toml").write_text(text.replace('design = "gestaltung"', 'design = "design"'),
                                          encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml")
    message = str(caught.value)
    assert "municipality.design" in message and "letterhead.lines[0]" in message
    assert "unbekannter Platzhalter {buergermeister}" in message and "{head}" in message


def test_the_package_design_names_no_municipality():
    shipped = "\n".join(p.read_text(encoding="utf-8") for p in DEFAULT_DIR.glob("*.toml"))
    assert "Musterstadt" not in shipped and "DE02120300000000202051" not in shipped
    assert not list(DEFAULT_DIR.glob("*.png"))


def test_a_design_with_placeholders_but_no_configuration_is_refused_not_left_with_gaps():
    from erechnung.config.design import SAMPLE_DIR, DesignError, load_design

    with pytest.raises(DesignError) as caught:
        load_design(DEFAULT_DIR)
    assert "letterhead.name: der Platzhalter {name} braucht die Angaben der Kommune" in str(caught.value)
    # the sample city's folder is filled from the sample city's configuration (tools without a config.toml)
    assert load_design(SAMPLE_DIR).letterhead.name == "Stadt Musterstadt"
