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


class RecordError(ErechnungError):
    """One problem with one value of one record (or with the whole batch, when ``row`` is None), in German for
    the department's clerk: what is wrong and what to write instead. Value parsers raise it unlocated; the
    reader adds file, row and column with ``at``."""

    def __init__(self, *, problem: str, fix: str, batch: str | None = None, row: int | None = None,
                 column: str | None = None, value: str | None = None) -> None:
        self.batch, self.row, self.column, self.value = batch, row, column, value
        self.problem, self.fix = problem, fix
        super().__init__(str(self))

    def at(self, *, batch: str | None = None, row: int | None = None, column: str | None = None,
           value: str | None = None) -> RecordError:
        """The same problem located: what is given replaces what was unknown where it was raised."""
        return RecordError(problem=self.problem, fix=self.fix, batch=batch if batch is not None else self.batch,
                           row=row if row is not None else self.row,
                           column=column if column is not None else self.column,
                           value=value if value is not None else self.value)

    def in_position(self, position: int) -> RecordError:
        """The same problem, said to stand in the record's nested position ``position`` (1 = first)."""
        return RecordError(problem=f"Position {position}: {self.problem}", fix=self.fix, batch=self.batch,
                           row=self.row, column=self.column, value=self.value)

    @property
    def is_batch_error(self) -> bool:
        """A problem with the file as a whole: nothing of it could be read."""
        return self.row is None

    def as_dict(self) -> dict[str, str | int | None]:
        return {"batch": self.batch, "row": self.row, "column": self.column, "value": self.value,
                "problem": self.problem, "fix": self.fix}

    def __str__(self) -> str:
        where = ", ".join(p for p in (
            self.batch, f"Zeile {self.row}" if self.row is not None else None,
            f"Spalte {self.column!r}" if self.column else None,
            f"Wert {self.value!r}" if self.value is not None else None) if p)
        return f"{where}: {self.problem} - {self.fix}" if where else f"{self.problem} - {self.fix}"

    def __repr__(self) -> str:
        return f"RecordError({self.as_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordError) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().values()))

    def __reduce__(self):  # picklable across process pools (keyword-only __init__)
        return (_rebuild, (self.as_dict(),))


def _rebuild(values: dict) -> RecordError:
    return RecordError(**values)
