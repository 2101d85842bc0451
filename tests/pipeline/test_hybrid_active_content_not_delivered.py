"""User story: a department (the Stadtbibliothek) drops a finished ZUGFeRD PDF whose /OpenAction runs JavaScript.
Validation refuses it (``pdf-active-content``), so it is never handed over and no delivery is planned for it,
while a clean hybrid dropped beside it goes on (issue 10, smaller finding 5). Both PDFs are made by this project
(``make_hybrid``); the hostile one is changed with pikepdf."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pikepdf
from pikepdf import Dictionary, Name, String

from .invariants import state

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _hybrids() -> tuple[bytes, bytes]:
    from erechnung.entrypoints.demo.invoices import sample_invoices
    from erechnung.documents.hybrid import make_hybrid

    first, second = list(sample_invoices().values())[:2]
    pdf = pikepdf.open(io.BytesIO(make_hybrid(second)))
    pdf.Root.OpenAction = pdf.make_indirect(Dictionary(Type=Name.Action, S=Name.JavaScript,
                                                       JS=String("app.launchURL('https://evil.example/');")))
    out = io.BytesIO()
    pdf.save(out)
    return make_hybrid(first), out.getvalue()


def test_dropped_hybrid_pdf_with_openaction_javascript_is_rejected_and_never_delivered(make_site, tmp_path):
    from erechnung.delivery.config import DeliveryConfig, RetryPolicy
    from erechnung.delivery.plan import plan_deliveries
    from erechnung.state import make_engine, session_factory
    from erechnung.state.delivery_schema import Delivery
    from delivery.fakes import FakeConnector

    clean, hostile = _hybrids()
    site = make_site(tmp_path / "site", f"sqlite:///{tmp_path / 'db.sqlite3'}", drop=False)
    site.drop("stadtbibliothek", name="BIB-2026-0100_sauber.pdf", data=clean)
    site.drop("stadtbibliothek", name="BIB-2026-0101_mit_skript.pdf", data=hostile)
    summary = site.run()

    bib = next(d for d in summary.departments if d.department == "stadtbibliothek")
    assert (bib.documents, bib.rendered, bib.rejected, bib.handed_over) == (2, 1, 1, 1)
    [rejected] = summary.rejected
    assert rejected.reason == "pdf-active-content"
    assert "JavaScript" in rejected.errors[0] and "/OpenAction" in rejected.errors[0]

    documents = {d.id: d for d in state(site.db_url)[1]}
    assert documents[rejected.id].state != "handed_over"
    engine = make_engine(site.db_url)
    try:
        plan_deliveries(session_factory(engine), DeliveryConfig(retry=RetryPolicy(max_attempts=3), land="NW"),
                        now=T0, connectors={c: FakeConnector(c) for c in ("email", "print")})
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            planned = set(s.scalars(select(Delivery.document_id)))
    finally:
        engine.dispose()
    assert rejected.id not in planned, "the PDF with a script must never reach a recipient"
    handed = {i for i, d in documents.items() if d.state == "handed_over"}
    assert handed and rejected.id not in handed
