"""Error types with messages a clerk understands: what, where, why, and how to fix it."""
from __future__ import annotations


class ErechnungError(Exception):
    """Base of every error this project raises on purpose."""


class DocumentReadError(ErechnungError):
    """A UBL or CII document cannot be read into the model.

    ``term`` names the business term (``BT-1``), ``location`` where in the document (an XPath), ``problem``
    what is wrong and ``fix`` what the sender should do.
    """

    def __init__(self, problem: str, *, term: str | None = None, location: str | None = None,
                 fix: str | None = None) -> None:
        self.problem, self.term, self.location, self.fix = problem, term, location, fix
        parts = [problem]
        if term:
            parts.insert(0, f"{term}:")
        if location:
            parts.append(f"(at {location})")
        if fix:
            parts.append(f"- {fix}")
        super().__init__(" ".join(parts))


class UnknownSyntaxError(DocumentReadError):
    """The document is neither a UBL 2.1 Invoice/CreditNote nor a CII D16B CrossIndustryInvoice."""


class DocumentWriteError(ErechnungError, ValueError):
    """The invoice holds something the target syntax cannot carry (the message names the term and the way out)."""


class CalculationError(ErechnungError):
    """The invoice's lines, allowances and charges cannot give consistent totals (BR-CO-*)."""
