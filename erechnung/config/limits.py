"""Bounded input: the limits every department file must stay within (issue 10, "untrusted input stays in its
box: bound every size, decompression, row and nesting").

``IntakeLimits`` is the one table: each field is a limit, its default, what it bounds and what the clerk is told
when a file breaks it. The configuration's ``[limits]`` section overrides the defaults (``limits.max_rows =
200000``; ``Limits`` adds the drop zone's bounds, ``file_bytes`` among them, to this table);
``intake.read_batch(..., limits=config.limits)`` applies them (its readers count rows with ``RowBudget``). A file
that breaks a limit is refused as a whole (one batch-level error, quarantined with the file) with the limit's name
and value, e.g. "die Datei hat mehr als 100000 Zeilen (Grenze limits.max_rows = 100000) - teilen Sie die Datensätze
auf mehrere Dateien auf".

Rows are counted as the clerk numbers them (module doc of ``intake.formats``): CSV and JSON Lines lines, Excel rows,
positions in a JSON list; a row number above ``max_rows`` breaks the limit, empty rows in between included, so
that a sheet whose only data sits in row 1048576 is refused without walking a million empty rows.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import RecordError

MiB = 1024 * 1024
#: The largest file a drop zone hands the pipeline at all (``[limits] file_bytes`` may only lower it).
MAX_BYTES = 100 * MiB


def limit(default: int, problem: str, fix: str) -> Any:
    """A limit: its default, the problem as the clerk reads it (``{value}`` is the limit) and what to do."""
    return Field(default, gt=0, description=problem.replace("{value}", "N"),
                 json_schema_extra={"problem": problem, "fix": fix})


class LimitExceeded(RecordError):
    """A file breaks ``limit`` (a field name of ``IntakeLimits``) whose value is ``bound``; a batch-level error."""

    def __init__(self, *, limit: str, bound: int, problem: str, fix: str, batch: str | None = None) -> None:
        super().__init__(problem=problem, fix=fix, batch=batch)
        self.limit, self.bound = limit, bound


class IntakeLimits(BaseModel):
    """What a department's file may hold at most; every limit is checked before the memory it bounds is used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_decompressed_bytes: int = limit(
        256 * MiB, "die XLSX-Datei ist entpackt größer als {value} Bytes",
        "teilen Sie die Tabelle in mehrere Dateien auf und entfernen Sie Bilder und eingebettete Objekte")
    max_compression_ratio: int = limit(
        100, "die XLSX-Datei wird beim Entpacken mehr als {value}-mal so groß wie die Datei (wie eine ZIP-Bombe)",
        "speichern Sie die Tabelle in Excel erneut als .xlsx; bleibt der Fehler, melden Sie die Datei der IT")
    max_rows: int = limit(
        100_000, "die Datei hat mehr als {value} Zeilen", "teilen Sie die Datensätze auf mehrere Dateien auf")
    max_columns: int = limit(
        1_000, "eine Zeile hat mehr als {value} Spalten",
        "liefern Sie nur die Spalten, die das Mapping-Profil braucht (leere Spalten rechts löschen)")
    max_cells: int = limit(
        2_000_000, "die Datei enthält mehr als {value} Zellen bzw. Werte",
        "teilen Sie die Datensätze auf mehrere Dateien auf")
    max_field_bytes: int = limit(
        64 * 1024, "ein Wert ist länger als {value} Bytes",
        "kürzen Sie den Wert; Anlagen und Bilder gehören nicht in die Datensätze")
    max_json_depth: int = limit(
        32, "die Daten sind tiefer als {value} Ebenen verschachtelt",
        "liefern Sie flache Datensätze ({\"Spalte\": \"Wert\", ...}, höchstens wenige Ebenen tief)")
    max_xml_bytes: int = limit(  # the validator's gate refuses more (validators.xmlsafe.DEFAULT_MAX_BYTES)
        20 * MiB, "das XML-Dokument ist größer als {value} Bytes",
        "liefern Sie Anlagen getrennt oder bitten Sie den Betrieb, die Grenze zu erhöhen")
    max_xml_depth: int = limit(  # as the validator's gate (validators.xmlsafe.DEFAULT_MAX_DEPTH)
        200, "die XML-Elemente sind tiefer als {value} Ebenen verschachtelt",
        "prüfen Sie das exportierende Fachverfahren; Rechnungen sind etwa 10 Ebenen tief")

    def exceeded(self, name: str, where: str | None = None) -> LimitExceeded:
        """The error for breaking limit ``name``; ``where`` locates it (``Zeile 17``) when one place breaks it."""
        extra = type(self).model_fields[name].json_schema_extra
        assert isinstance(extra, dict)
        value = getattr(self, name)
        problem = str(extra["problem"]).format(value=value)
        if where:
            problem = f"{problem} ({where})"
        return LimitExceeded(limit=name, bound=value, fix=str(extra["fix"]),
                             problem=f"{problem} (Grenze limits.{name} = {value})")

    def check(self, name: str, found: int, where: str | None = None) -> None:
        """Raise ``exceeded(name)`` when ``found`` is above limit ``name``."""
        if found > getattr(self, name):
            raise self.exceeded(name, where)

    def check_text(self, text: str, where: str | None = None) -> None:
        """A value's UTF-8 length against ``max_field_bytes`` (encoded only when its characters could break it)."""
        if len(text) * 4 > self.max_field_bytes and len(text.encode("utf-8", "surrogatepass")) > self.max_field_bytes:
            raise self.exceeded("max_field_bytes", where)


DEFAULT_LIMITS = IntakeLimits()


class Limits(IntakeLimits):
    """Bounds on what a drop zone may hand the pipeline (untrusted input): a file over ``file_bytes`` is refused
    unread and nothing of it archived; a batch whose processing failed ``batch_attempts`` times (its run died,
    or an unexpected error) is set aside as poison so that later runs go on. The readers' bounds on what a file
    may hold (rows, cells, decompression, nesting) are inherited from ``IntakeLimits``, the table of them."""

    file_bytes: int = Field(default=MAX_BYTES, ge=1, le=MAX_BYTES)
    batch_attempts: int = Field(default=3, ge=1, le=100)
