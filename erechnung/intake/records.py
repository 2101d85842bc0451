"""What intake hands from step to step: a record as read from a batch file, and a batch.

A problem with one is an ``errors.RecordError``: it names the file, the row (as the clerk sees it: the line of a CSV
with the header as line 1, the row of the Excel sheet, the line of a JSON Lines file, the position of a JSON
record), the column, the value, what is wrong and what to do, in German, because the department's clerk reads it in
the error report. A problem with the whole file (not decodable, not JSON, not an Excel file) is a ``RecordError``
without a row. A problem with a value of a nested position (the third entry of a JSON record's ``positionen``, the
third ``<Position>`` of an XML record) begins with ``Position 3:``, because the record's row alone does not tell the
clerk where it stands.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..errors import RecordError


@dataclass(frozen=True)
class RawRecord:
    """One record of a batch: its fields as text, keyed by column header.

    ``native`` names the columns whose value came typed from the file (an Excel number or date cell, a JSON
    number): those hold a canonical machine form (``1234.5``, ``2026-12-31``) whatever the department's number
    and date formats say. ``problems`` are what the reader already found wrong with the row (a row with more
    fields than the header, a JSON line that is not an object); mapping quarantines the row's document for them.
    ``raw`` is the row as it stood in the file (text), or the whole document (bytes) for finished documents.
    A record read from a nested position (``[reader] positions``) has its ``position`` in its record (1 = first)
    and the ``position_columns`` whose values stand in the position, not in the record around it.
    """

    batch: str
    row: int
    fields: Mapping[str, str]
    raw: str | bytes = ""
    native: frozenset[str] = frozenset()
    problems: tuple[RecordError, ...] = ()
    position: int | None = None
    position_columns: frozenset[str] = frozenset()

    def get(self, column: str) -> str:
        return self.fields.get(column, "")

    def located(self, error: RecordError, column: str | None) -> RecordError:
        """``error`` about the value in ``column`` of this record: in its nested position when the value stands
        there (a value of the record around the positions is the same in every position, so said once)."""
        if self.position is not None and column is not None and column in self.position_columns:
            return error.in_position(self.position)
        return error


@dataclass(frozen=True)
class Batch:
    """A batch file read into records. ``errors`` holds the batch-level error (then there are no records)."""

    name: str
    format: str
    records: tuple[RawRecord, ...] = ()
    errors: tuple[RecordError, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    columns: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(e.is_batch_error for e in self.errors)

    def failed(self, problem: str, fix: str) -> Batch:
        return replace(self, records=(), errors=(RecordError(batch=self.name, problem=problem, fix=fix),))
