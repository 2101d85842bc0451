"""Intake: a department's batch file in, documents (or the reasons why not) out. Domain code, no I/O frameworks:
every function takes bytes and a name, storage is the caller's.

The flows call, in this order::

    config = load_config("config.toml")                  # erechnung.config: every mistake at once
    profiles = load_profiles(config)                      # the departments' mapping profiles
    dep = config.department("standesamt")
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    mapped = map_batch(batch, dep, config, profiles[dep.id], recipients)
    built = build_all(mapped.drafts, config, numbers=counter_store)
    problems = mapped.errors + [e for q in built.quarantined for e in q.errors]
    error_report_csv(problems), error_report_html(problems, department=dep.name)   # bytes for the drop zone

Finished documents (``format`` xml or pdf) are read as one record each (``document_bytes(record)`` gives the XML)
and go straight to validation.
"""
from ..errors import RecordError
from .errors_report import error_report_csv, error_report_html
from .formats import detect_encoding, document_bytes, read_batch
from .mapping import (
    BuildResult, CounterNumbers, DocumentDraft, DocumentRejected, MappingProfile, MappingResult, NumberSource,
    Quarantined, build, build_all, load_profile, load_profiles, map_batch, parse_profile,
)
from .recipients import RecipientImport, import_recipients_csv
from .records import Batch, RawRecord

__all__ = [
    "Batch", "BuildResult", "CounterNumbers", "DocumentDraft", "DocumentRejected", "MappingProfile", "MappingResult",
    "NumberSource", "Quarantined", "RawRecord", "RecipientImport", "RecordError", "build", "build_all",
    "detect_encoding", "document_bytes", "error_report_csv", "error_report_html", "import_recipients_csv",
    "load_profile", "load_profiles", "map_batch", "parse_profile", "read_batch",
]
