"""Every document built from the sample batches is accepted by the validator, in UBL and in CII; the notices'
payment claims as well; the finished documents as delivered."""
from __future__ import annotations

from datetime import date

import pytest

from erechnung.intake import CounterNumbers, build_all, document_bytes, map_batch, read_batch
from erechnung.syntax import write_invoice

pytestmark = pytest.mark.xdist_group("validator")

MAPPED = ("standesamt", "ordnungsamt", "steueramt", "gewerbesteuer", "abfallwirtschaft")


def _verdict(validator, data: bytes, name: str) -> str:
    result = validator.validate(data, name)
    assert result.verdict == "accept", f"{name}: " + "; ".join(f"{m.code} {m.text}" for m in result.errors[:5])
    return result.verdict


@pytest.mark.parametrize("department", MAPPED)
def test_documents_built_from_the_sample_batches_are_accepted_by_the_validator(
        department, config, profiles, register, sample, validator):
    from erechnung.notices.claim import claim_invoice

    dep = config.department(department)
    data, name = sample(department)
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    mapped = map_batch(batch, dep, config, profiles[department], register, today=date(2026, 11, 6))
    built = build_all(mapped.drafts, config, numbers=CounterNumbers())
    assert not built.quarantined, [str(e) for q in built.quarantined for e in q.errors]
    assert built.documents
    checked = 0
    for draft, document in built.documents:
        if draft.kind == "notice":
            if not document.addressee.electronic_address:  # a letter without a structured claim
                continue
            document = claim_invoice(document)
        for syntax in ("ubl", "cii"):
            _verdict(validator, write_invoice(document, syntax), f"{name}:{draft.key}:{syntax}")
            checked += 1
    assert checked >= 2 * (len(built.documents) - 1)


def test_finished_documents_of_the_library_are_accepted_as_delivered(config, validator):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / "batches" / "stadtbibliothek"
    dep = config.department("stadtbibliothek")
    files = sorted(folder.glob("*.xml"))
    assert len(files) == 2
    for path in files:
        (record,) = read_batch(path.read_bytes(), path.name, format=dep.format).records
        _verdict(validator, document_bytes(record), path.name)
