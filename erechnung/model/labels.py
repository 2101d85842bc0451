"""The German names people read for the states and kinds the state database keeps as codes (``handed_over``,
``deemed_notified``, ``credit_note`` ...): one table for the console, the Prefect artifacts and the reports.
A code without a name here is shown as it is."""
from __future__ import annotations

__all__ = ["LABELS", "label"]

LABELS: dict[str, str] = {
    # documents
    "numbered": "nummeriert", "rendered": "erzeugt", "rejected": "abgewiesen", "archived": "archiviert",
    "handed_over": "zur Zustellung übergeben",
    # deliveries
    "queued": "wartet", "sending": "wird gesendet", "sent": "gesendet", "delivered": "zugestellt",
    "retrieved": "abgerufen", "deemed_notified": "gilt als bekanntgegeben", "failed": "fehlgeschlagen",
    "expired": "abgelaufen", "fell_back": "an nächsten Kanal übergeben",
    # batches
    "done": "verarbeitet", "claimed": "in Arbeit",
    # archive items
    "report": "Prüfbericht", "document": "Dokument", "original_batch": "Originaldatei", "error_report": "Fehlerbericht",
    # open items (model.receivables.ItemState)
    "open": "offen", "partially_paid": "teilweise bezahlt", "paid": "bezahlt", "overpaid": "überzahlt",
    "in_dunning": "im Mahnverfahren", "written_off": "niedergeschlagen",
    # document kinds
    "invoice": "Rechnung", "credit_note": "Gutschrift", "notice": "Bescheid",
}


def label(code: str) -> str:
    """The German name of ``code``, or ``code`` itself."""
    return LABELS.get(code, code)
