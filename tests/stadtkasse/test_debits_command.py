"""``erechnung debits --due D -o FILE``: the open items due that day whose debtor has a SEPA mandate in the
recipient register become one pain.008 (core scheme, FRST for a mandate not collected under before), valid against
the XSD; a day without such items writes nothing and says so."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erechnung.entrypoints.cli import main
from erechnung.model.receivables import OpenItem
from erechnung.payments.debits import validate_pain008
from erechnung.state import make_engine, migrate, transaction
from erechnung.state import receivables as books
from erechnung.state.schema import Document

from .books import ACCOUNT

DUE = date(2027, 2, 15)
MANDATE = "MUSTER-K10001-01"


def _register_with_a_mandate(site) -> None:
    """The sample register with Erika Mustermann's SEPA mandate (the German columns of the register import)."""
    from erechnung.entrypoints.demo.pipeline import EXAMPLES

    lines = (EXAMPLES / "recipients.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ";SEPA-Mandat;Mandatsdatum;IBAN;BIC"]
    for line in lines[1:]:
        extra = f";{MANDATE};2026-01-10;DE89370400440532013000;COBADEFFXXX" if line.startswith("K-10001;") \
            else ";;;;"
        out.append(line + extra)
    register = site.root / "recipients-mandates.csv"
    register.write_text("\n".join(out) + "\n", encoding="utf-8")
    text = site.config_path.read_text(encoding="utf-8")
    site.config_path.write_text("\n".join(f'recipients = "{register.as_posix()}"' if l.startswith("recipients =")
                                          else l for l in text.splitlines()) + "\n", encoding="utf-8")


def _item(db_url: str, number: str, *, mandate: str | None) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        doc = Document(idempotency_key=f"test:{number}", department="steueramt", number=number, kind="notice",
                       format="notice_pdf", state="handed_over")
        s.add(doc)
        s.flush()
        books.add_item(s, OpenItem(document_id=doc.id, number=number, kassenzeichen=number, department="steueramt",
                                   debtor_ref="K-10001", debtor_name="Erika Mustermann", amount=Decimal("42.00"),
                                   due_date=DUE, account_iban=ACCOUNT, mandate_id=mandate))
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_items_with_a_mandate_are_collected_in_one_valid_pain008(make_site, db_url, tmp_path, capsys):
    site = make_site(tmp_path / "site", db_url, drop=False)
    _register_with_a_mandate(site)
    _item(db_url, "HST-2027-00001", mandate=MANDATE)
    _item(db_url, "HST-2027-00002", mandate=None)  # no mandate: paid by transfer, not collected
    out = tmp_path / "lastschriften.xml"
    assert main(["debits", "--config", str(site.config_path), "--due", DUE.isoformat(), "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "1 Lastschrift(en) über 42,00 EUR zum 15.02.2027" in printed.out
    xml = out.read_bytes()
    validate_pain008(xml)
    assert MANDATE.encode() in xml and b"<SeqTp>FRST</SeqTp>" in xml and b"HST-2027-00002" not in xml
    nothing = tmp_path / "none.xml"
    assert main(["debits", "--config", str(site.config_path), "--due", "2027-03-01", "-o", str(nothing)]) == 0
    assert "Keine Lastschriften zum 01.03.2027" in capsys.readouterr().out and not nothing.exists()
