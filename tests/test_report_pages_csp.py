"""Every HTML page the project writes says, in a Content-Security-Policy meta element, that it may load
nothing (``default-src 'none'``), and refers to no external resource: the validation report and run summary
(validators/report.py), the pipeline's run report (pipeline/run.py), the intake error report
(intake/errors_report.py), the delivery batch report (delivery/report.py), the Stadtkasse's clarification list
(payments/clarification.py) and the ``show`` page, all through the
one helper in ``erechnung/html_safety.py`` (issue 10, smaller finding 4). Values from documents may be hostile;
the policy is the browser's second line after escaping."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from lxml import html as lxml_html

from erechnung import html_safety

ACCEPTED = "cases/xrechnung-testsuite/src/test/business-cases/standard/01.02a-INVOICE_ubl.xml"
HOSTILE = '<script src="https://evil.example/x.js"></script><img src="https://evil.example/p.png">'
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def _validation_report(case_result) -> bytes:
    from validators.report import document_html

    return document_html(case_result(ACCEPTED))


def _validation_summary(case_result) -> bytes:
    from validators.report import summarize, summary_html

    return summary_html(summarize([case_result(ACCEPTED)]))


def _run_report(_) -> bytes:
    from erechnung.pipeline.run import DepartmentSummary, RunSummary, run_report_html

    return run_report_html(RunSummary("run-1", T0, T0, 1.0, 1,
                                      [DepartmentSummary("kasse", HOSTILE, documents=1, error=HOSTILE)]))


def _error_report(_) -> bytes:
    from erechnung.intake import RecordError, error_report_html

    return error_report_html([RecordError(batch="a.csv", row=2, column="Name", value=HOSTILE, problem="x",
                                          fix="y")], department=HOSTILE, created=T0.replace(tzinfo=None))


def _delivery_report(_) -> bytes:
    from erechnung.delivery.report import batch_report_html
    from erechnung.state import make_engine, migrate, transaction

    engine = make_engine("sqlite://")
    migrate(engine)
    try:
        with transaction(engine) as s:
            return batch_report_html(s, 1, chain_text=HOSTILE).encode("utf-8")
    finally:
        engine.dispose()


def _clarification_list(_) -> bytes:
    from datetime import date
    from decimal import Decimal

    from erechnung.config.payments import MatchRules
    from erechnung.model.receivables import BankEntry, Direction
    from erechnung.payments.clarification import clarification_html, clarification_rows
    from erechnung.payments.matching import match

    entries = [BankEntry(entry_key=HOSTILE, account_iban="DE02120300000000202051", booking_date=date(2026, 3, 2),
                         amount=Decimal("1.00"), direction=Direction.CREDIT, remittance=(HOSTILE,),
                         counterparty_name=HOSTILE)]
    return clarification_html(clarification_rows(match(entries, [], rules=MatchRules()), entries, []), created=T0)


PAGES = {"validation report": _validation_report, "validation summary": _validation_summary,
         "run report": _run_report, "intake error report": _error_report, "delivery batch report": _delivery_report,
         "clarification list": _clarification_list}


def _policy(page: bytes) -> str:
    doc = lxml_html.document_fromstring(page)
    metas = doc.xpath('//head/meta[translate(@http-equiv, "CONTENT-SECURITY-POLICY", "content-security-policy")'
                      '="content-security-policy"]')
    assert len(metas) == 1, "one CSP meta element in the head"
    head = doc.find("head")
    assert list(head).index(metas[0]) <= 1, "before anything the policy must cover (after the charset only)"
    return metas[0].get("content")


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_report_page_may_load_nothing(kind, case_result):
    page = PAGES[kind](case_result)
    policy = _policy(page)
    assert policy == html_safety.REPORT_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives, "reports run no script"
    doc = lxml_html.document_fromstring(page)
    external = [el.get(a) for el in doc.iter() for a in ("src", "href") if el.get(a) and "://" in el.get(a)]
    assert not external, f"external resources on the {kind}: {external}"
    assert not doc.xpath("//script | //link | //iframe | //object | //embed"), "no element that loads anything"


def test_show_page_uses_the_same_helper(case_result):
    from erechnung import artifacts
    from erechnung.view import render_html

    page = render_html((artifacts.cases_dir() / ACCEPTED.removeprefix("cases/")).read_bytes(), ACCEPTED)
    assert _policy(page) == html_safety.VIEWER_POLICY
    assert html_safety.VIEWER_POLICY.startswith("default-src 'none'")
