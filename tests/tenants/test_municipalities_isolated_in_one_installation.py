"""Issue 16: a municipal IT service provider runs many municipalities in one installation. Two of them (Stadt
Musterstadt and Markt Beispielheim, the examples) run through the pipeline in place, on PostgreSQL with a schema
each in one database and on SQLite with a file each: nothing of one is seen, numbered, archived, reported or
delivered under the other. Checked from each municipality's own database, archive, drop zones and print outbox,
never from what the run says about itself."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from .conftest import EXAMPLES

#: The sample deliveries each municipality drops (few documents: the suite stays fast): one numbered by the
#: pipeline (number_range), one with rows that end in an error report in the department's drop zone.
DROPPED = {"musterstadt": (EXAMPLES, ["standesamt", "steueramt"]),
           "beispielheim": (EXAMPLES / "beispielheim", ["bauhof", "friedhof"])}
#: What identifies each municipality as seller / sender (BT-27, BT-30) in its documents.
IDENTITY = {"musterstadt": ("Stadt Musterstadt", "05999001"), "beispielheim": ("Markt Beispielheim", "09375999")}


def _text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        data = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                              check=True).stdout
    return re.sub(r"\s+", " ", data.decode("utf-8"))


def _stored(config, tenant):
    """Documents, deliveries and number ranges in the tenant's own database."""
    from erechnung.config import database_url
    from erechnung.state import make_engine
    from erechnung.state.delivery_schema import Delivery
    from erechnung.state.schema import ArchiveItem, Document, NumberRange

    engine = make_engine(database_url(config))
    try:
        with Session(engine) as s:
            docs = list(s.scalars(select(Document)))
            items = [a for a in s.scalars(select(ArchiveItem)) if a.kind == "document"]
            ranges = {(r.department, r.prefix): r.next_value for r in s.scalars(select(NumberRange))}
            deliveries = list(s.scalars(select(Delivery)))
        return docs, items, ranges, deliveries
    finally:
        engine.dispose()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_municipalities_share_nothing_in_one_installation(tmp_path, make_installation, backend):
    from erechnung.config.tenants import load_installation
    from erechnung.entrypoints.cli import main
    from erechnung.entrypoints.cli.samples import drop_samples
    from erechnung.pipeline import Options
    from erechnung.pipeline.run import run

    installation = load_installation(make_installation(tmp_path, backend))
    check = installation.check()
    assert check.ok, [check.problems_of(t) for t in check.configs]
    configs = check.runnable()
    summaries = {}
    for tenant_id, (examples, departments) in DROPPED.items():
        tenant, config = installation.tenant(tenant_id), configs[tenant_id]
        dropped = drop_samples(config, departments, examples=examples)
        assert sorted(dropped.files) == sorted(departments) and not dropped.failed
        summaries[tenant_id] = run(config, options=Options(workers=1), work_dir=tenant.work_dir,
                                   report_dir=tenant.report_dir)
    # delivery per tenant through the command line: the print channel (no other is configured here; exit 1:
    # Beispielheim's business customer takes XRechnung by e-mail only, a dead letter of Beispielheim's own)
    exits = {t: main(["deliver", "--no-track", "--tenant", t, "--installation", str(installation.path)])
             for t in DROPPED}
    assert exits == {"musterstadt": 0, "beispielheim": 1}

    stored = {t: _stored(configs[t], installation.tenant(t)) for t in DROPPED}
    for tenant_id, (docs, items, ranges, deliveries) in stored.items():
        other = next(t for t in DROPPED if t != tenant_id)
        config, tenant = configs[tenant_id], installation.tenant(tenant_id)
        own_departments = set(DROPPED[tenant_id][1])
        # documents: only the tenant's own departments, each archived in the tenant's archive, naming it as seller
        assert docs and {d.department for d in docs} == own_departments, tenant_id
        assert summaries[tenant_id].totals.handed_over == len(docs)
        archive = Path(config.archive.location.path if Path(config.archive.location.path).is_absolute()
                       else config.path(config.archive.location.path))
        for item in items:
            own = archive / "sha256" / item.sha256[:2] / item.sha256[2:4] / item.sha256
            assert own.is_file(), (tenant_id, item.sha256)
            shown = _text(own)  # a letter (PDF) names the municipality; an XRechnung also its key (BT-30)
            own_identity = IDENTITY[tenant_id] if item.media_type.endswith("xml") else IDENTITY[tenant_id][:1]
            assert all(x in shown for x in own_identity), (tenant_id, item.document_id)
            assert not any(x in shown for x in IDENTITY[other]), (tenant_id, item.document_id)
        # number ranges: the tenant's own prefixes only, counted from their start by its own documents alone
        prefixes = {d.number_range.prefix for d in config.departments.values()
                    if d.id in own_departments and d.number_range}
        assert {p for _, p in ranges} == prefixes, tenant_id
        for (department, prefix), next_value in ranges.items():
            numbered = sorted(d.number for d in docs if d.number and d.number.startswith(prefix))
            width = config.department(department).number_range.width
            assert numbered == [f"{prefix}{i:0{width}d}" for i in range(1, next_value)], tenant_id
        # error reports in the tenant's own drop zones only
        for department_id, zone in ((d.id, config.path(d.drop_zone.path)) for d in config.departments.values()):
            reports = {f for f in _files(zone) if f.startswith("fehlerberichte/")}
            expected = {where for dep, where in summaries[tenant_id].error_reports if dep == department_id}
            assert bool(reports) == bool(expected), (tenant_id, department_id)
        assert summaries[tenant_id].error_reports, tenant_id  # each tenant has one (Standesamt's rows, Bauhof's sum)
        # run reports and work areas in the tenant's own folders
        assert Path(summaries[tenant_id].report_html).is_relative_to(tenant.report_dir)
        assert _files(tenant.work_dir) is not None and tenant.work_dir.is_dir()
        # delivered: the tenant's documents under its own delivery keys, the letters in its own print outbox,
        # sent by the tenant
        assert deliveries and {d.document_id for d in deliveries} <= {d.id for d in docs}, tenant_id
        assert all(d.idempotency_key.startswith(f"{config.delivery.key_prefix}-") for d in deliveries)
        outbox = config.path(config.delivery.print.outbox)
        letters = [f for f in _files(outbox) if f.endswith(".pdf")]
        assert len(letters) == 1, tenant_id
        for name in letters:
            shown = _text(outbox / name)
            assert IDENTITY[tenant_id][0] in shown and IDENTITY[other][0] not in shown, (tenant_id, name)

    # the archives are disjoint, and so are the work areas and report folders
    archives = {t: _files(configs[t].path("var/archive")) for t in DROPPED}
    assert archives["musterstadt"] and archives["beispielheim"]
    assert not archives["musterstadt"] & archives["beispielheim"]
    assert not ({d.sha256 for d in stored["musterstadt"][1]} & {d.sha256 for d in stored["beispielheim"][1]})
    outboxes = {t: _files(configs[t].path(configs[t].delivery.print.outbox)) for t in DROPPED}
    assert outboxes["musterstadt"] and outboxes["beispielheim"]
