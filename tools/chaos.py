"""``make chaos``: kill ``erechnung run``, ``deliver`` and ``track`` at random moments, then check that nothing was
lost, nothing duplicated and nothing left stuck (issue 10, production safety).

    python tools/chaos.py [--kills 50] [--seed N] [--records 1500] [--db postgresql+psycopg://...] [--keep DIR]

A throw-away installation of Stadt Musterstadt is made in a temporary folder: ``examples/config.toml`` with every
location under it (``erechnung.entrypoints.demo.pipeline.config_text``), its database a fresh PostgreSQL database
``chaos_<random>`` created on 127.0.0.1:5432 (trust auth) and dropped at the end (``--db URL`` uses a given
database instead, and keeps it), its delivery channels the local sandboxes (SMTP with DSN, FIT-Connect with the
BundID bridge, ELSTER-Transfer; ``SandboxSite``, as ``erechnung sandbox`` and the demo start them, on loopback),
retries after 1 s instead of a minute so that a retried delivery is due within the run. The departments'
exports are the synthetic deliveries of ``bench/bench_pipeline.py`` (Standesamt, Ordnungsamt, Abfallwirtschaft,
Steueramt, Stadtbibliothek), in small files, a few Standesamt rows broken on purpose (they must be quarantined),
and now and then a file dropped a second time under another name (it must be recognised, not taken in twice).

One normal ``run``, ``deliver`` and ``track`` are timed first. Then, until ``--kills`` processes were killed: new
files go into the drop zones (spread over the kills, so that there is always work), one of ``erechnung run
--no-prefect``, ``deliver`` or ``track`` starts as its own process group, and after a random delay (seeded; up
to the command's observed duration) the group gets SIGKILL, as a crash or the OOM killer would do it; a process
that finished before its moment is not counted. After every third kill of a command one of it runs to its end:
the work piles up while runs die, and the next kills spread over the lifetime the command has then. Afterwards
``run``, ``deliver`` and ``track`` run without kills until nothing is left to do, and :func:`check` reads what
happened from the state database, the sandboxes (Maildirs, BundID postboxes, ELSTER orders), the print batches
and the drop zones, never from what the commands say about themselves:

=============== ==================================================================================================
``lost``        a record of a dropped file that is neither a document nor a quarantine entry (its file never
                taken in, a row without a record); a document never handed over; a handed-
                over document with neither a delivery that went out nor a dead letter; a delivery recorded as
                sent that its channel never received
``duplicated``  a row that became two records or two documents; two deliveries of one document that both went
                out; an e-mail received more often than once plus the resends recorded in the delivery trail
                (``resend_after_crash``: e-mail is at-least-once with the same Message-ID, every extra copy must
                be on record); a BundID message or ELSTER order received twice; a letter in two print batches;
                a message the channel received for no delivery of the trail
``stuck``       after recovery: a batch still ``claimed``, a department lock still held, a delivery still
                ``sending``, a file left in a drop zone or under ``claimed/``, letters left in an open print batch
=============== ==================================================================================================

A file whose processing was begun ``[limits] batch_attempts`` times by runs that died in it is set aside as
poison (archived, its reason in the department's error report): the file's quarantine, so its records are not
lost; such files are printed as ``set_aside`` (the kills are not the file's fault, but the pipeline cannot tell
a kill from a crash the file caused). ``erechnung audit verify`` and ``erechnung archive verify`` must pass. The last line is always
``chaos: kills K, records N, lost L, duplicated D, stuck S``; the exit code is 1 when L, D or S is not 0 or a
verify failed. ``--keep DIR`` keeps the installation (and the database) in DIR to look at afterwards; the
logs of every process are in ``DIR/logs/``.
"""
from __future__ import annotations

import argparse
import csv
import email.parser
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PG_ADMIN = os.environ.get("ERECHNUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLES = ROOT / "examples"
#: Which command is killed how often (track is short and does little: it is killed less often).
COMMANDS = {"run": 0.45, "deliver": 0.45, "track": 0.10}
#: Delivery states in which a delivery went out to its channel and stands.
WENT_OUT = ("sent", "delivered", "retrieved", "deemed_notified")
#: Share of Standesamt rows broken on purpose (a price that is no number, at least one per file): each must end
#: in quarantine.
BROKEN_SHARE = 0.05
#: Share of drops that are a file dropped before, again under another name.
REDROP_SHARE = 0.1
#: After this many kills of a command, one of it runs to its end: the work grows while runs die, and the kills
#: spread over the lifetime the command has now.
MEASURE_EVERY = 3
#: The chaos installation's retries: due again after a second, so that recovery does not wait minutes.
RETRY = "retry = { base_seconds = 1, cap_seconds = 4, max_attempts = 5 }"


# ============================================================================================ the installation


@dataclass(frozen=True)
class Dropped:
    """A department export the harness made: what it holds is known here, not read back from the pipeline."""

    department: str
    name: str
    sha256: str
    records: int
    broken: int = 0  # rows broken on purpose: they must end in quarantine
    data: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def of(cls, department: str, name: str, data: bytes, records: int, broken: int = 0) -> Dropped:
        return cls(department, name, hashlib.sha256(data).hexdigest(), records, broken, data)


def save_exports(root: Path, files: list[Dropped]) -> None:
    """``exports.json``: every export made (without its bytes), for :func:`check` on a kept installation."""
    (root / "exports.json").write_text(json.dumps([{k: v for k, v in asdict(f).items() if k != "data"}
                                                   for f in files], indent=1), encoding="utf-8")


def load_exports(root: Path) -> list[Dropped]:
    return [Dropped(**f) for f in json.loads((root / "exports.json").read_text(encoding="utf-8"))]


@dataclass
class Site:
    root: Path
    db_url: str

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    def zone(self, department: str) -> Path:
        return self.root / "dropzones" / department


def make_site(root: Path, db_url: str) -> Site:
    """The demo's configuration under ``root`` with the given database and quick retries."""
    from erechnung.entrypoints.demo.pipeline import config_text

    root.mkdir(parents=True, exist_ok=True)
    text = config_text(root, database_url=db_url)
    lines = [RETRY if line.startswith("retry = ") else line for line in text.splitlines()]
    (root / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for dep in ("standesamt", "ordnungsamt", "steueramt", "abfallwirtschaft", "stadtbibliothek"):
        (root / "dropzones" / dep).mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    return Site(root, db_url)


def _break_rows(data: bytes, rng: random.Random) -> tuple[bytes, int]:
    """Standesamt CSV with :data:`BROKEN_SHARE` of its rows (at least one) given a price that is no number."""
    rows = list(csv.reader(io.StringIO(data.decode("windows-1252")), delimiter=";"))
    price = rows[0].index("Einzelpreis")
    chosen = rng.sample(range(1, len(rows)), max(1, round((len(rows) - 1) * BROKEN_SHARE)))
    for i in chosen:
        rows[i][price] = "zwölf Euro"
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("windows-1252"), len(chosen)


def make_exports(records: int, rng: random.Random, batch_size: int) -> list[Dropped]:
    """About ``records`` records in files of up to ``batch_size`` rows, mixed like bench_pipeline's deliveries
    (its generators, with one batch number per file so that no two files share an invoice number)."""
    import bench_pipeline as bench

    makers = {"standesamt": (bench._standesamt, "csv"), "ordnungsamt": (bench._ordnungsamt, "jsonl"),
              "abfallwirtschaft": (bench._abfall, "csv"), "steueramt": (bench._steueramt, "csv")}
    library = (EXAMPLES / "batches/stadtbibliothek/BIB-2026-0031_ubl.xml").read_bytes()
    files, batch = [], 0
    for dep, share in bench.MIX.items():
        n = max(1, round(records * share))
        if dep == "stadtbibliothek":
            for i in range(n):
                number = f"BIB-CHAOS-{i:05d}"
                files.append(Dropped.of(dep, f"{number}.xml", library.replace(b"BIB-2026-0031", number.encode()), 1))
            continue
        make, ext = makers[dep]
        for start in range(0, n, batch_size):
            batch += 1
            rows = min(batch_size, n - start)
            data, broken = make(rng, batch, rows), 0
            if dep == "standesamt":
                data, broken = _break_rows(data, rng)
            files.append(Dropped.of(dep, f"chaos-{batch:04d}.{ext}", data, rows, broken))
    rng.shuffle(files)
    return files


def drop(site: Site, f: Dropped, name: str | None = None) -> None:
    """Into the drop zone as a department's system does it: written aside, then renamed into place."""
    zone = site.zone(f.department)
    tmp = site.root / "logs" / f".{uuid.uuid4().hex}"
    tmp.write_bytes(f.data)
    os.replace(tmp, zone / (name or f.name))


# ============================================================================================ the database


def create_database(admin_url: str) -> str:
    """A fresh database ``chaos_<random>`` on the PostgreSQL of ``admin_url``; its SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True, connect_timeout=5) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, db_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin, name = make_url(admin_url), make_url(db_url).database
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True, connect_timeout=5) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ============================================================================================ the commands


@dataclass
class Commands:
    """The ``erechnung`` commands on the site, each a process group of its own, logged to ``logs/``."""

    site: Site
    workers: int = 1
    chunk_size: int = 25
    started: int = 0

    def argv(self, command: str) -> list[str]:
        base = [sys.executable, "-m", "erechnung", command, "--config", str(self.site.config)]
        if command == "run":
            base += ["--no-prefect", "--workers", str(self.workers), "--chunk-size", str(self.chunk_size)]
        return base

    def start(self, command: str) -> tuple[subprocess.Popen, Path]:
        self.started += 1
        log = self.site.root / "logs" / f"{self.started:03d}-{command}.log"
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        env.pop("ERECHNUNG_CRASH_AT", None)
        with open(log, "wb") as out:
            proc = subprocess.Popen(self.argv(command), stdout=out, stderr=subprocess.STDOUT, cwd=self.site.root,
                                    env=env, start_new_session=True)
        return proc, log

    def run(self, command: str, timeout: float = 900) -> tuple[int, float, Path]:
        """Run ``command`` to its end: (exit code, seconds, log)."""
        began = time.monotonic()
        proc, log = self.start(command)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise SystemExit(f"chaos: {command} did not finish within {timeout:.0f} s (log {log})")
        return code, time.monotonic() - began, log

    def kill_after(self, command: str, delay: float) -> tuple[bool, int | None, float, Path]:
        """Start ``command`` and SIGKILL its process group after ``delay`` seconds, unless it ended before:
        (killed, exit code if it ended, seconds, log)."""
        began = time.monotonic()
        proc, log = self.start(command)
        try:
            code = proc.wait(delay)
            return False, code, time.monotonic() - began, log
        except subprocess.TimeoutExpired:
            _kill(proc)
            return True, None, time.monotonic() - began, log


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL to the process's group (the command and its worker processes), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ============================================================================================ the sandboxes


def start_sandboxes(site: Site):
    """The delivery sandboxes on loopback, their connections in ``sandbox/delivery.toml`` (which the
    configuration includes), the postboxes and accounts of the recipient register opened."""
    from erechnung.intake.recipients import import_recipients_csv
    from mailbox_connectors.sandboxes.site import SandboxSite

    register = import_recipients_csv((EXAMPLES / "recipients.csv").read_bytes(), "recipients.csv").register
    sandboxes = SandboxSite(site.root / "sandbox").start()
    sandboxes.register(register)
    return sandboxes


def collect_evidence(site: Site, sandboxes) -> dict:
    """What the channels received, per delivery id, kept in ``evidence.json``: BundID messages in the postboxes
    (after the FIT-Connect bridge finished its work) and ELSTER orders. The e-mails are in the Maildirs and the
    letters in the print batches on disk; :func:`check` reads those itself."""
    sandboxes.fit.wait_processed()
    evidence = {"bundid": Counter(m.message.get("reference") for m in list(sandboxes.zbp.messages.values())),
                "elster": Counter(getattr(o, "reference", None) for o in list(sandboxes.elster.orders.values()))}
    (site.root / "evidence.json").write_text(json.dumps(evidence, indent=1), encoding="utf-8")
    return evidence


def _mail_files(site: Site):
    """(delivery id, path) of every e-mail in the recipients' Maildirs (its ``X-Erechnung-Delivery-Id``)."""
    from mailbox_connectors.email import DELIVERY_HEADER

    parser = email.parser.BytesHeaderParser()
    for path in sorted((site.root / "sandbox/smtp/mailboxes").glob("*/*/*")):
        if path.parent.name in ("new", "cur") and path.is_file():
            key = parser.parsebytes(path.read_bytes()).get(DELIVERY_HEADER)
            yield (key.strip() if key else f"(no delivery id) {path.name}"), path


def mails(site: Site) -> Counter:
    """Copies per delivery id of every e-mail in the recipients' Maildirs."""
    return Counter(key for key, _ in _mail_files(site))


def mails_of(site: Site, delivery_id: str) -> list[Path]:
    """The Maildir files of the e-mails of one delivery."""
    return [path for key, path in _mail_files(site) if key == delivery_id]


def letters(site: Site) -> tuple[Counter, int]:
    """Batches per delivery id over every print batch's manifest, and the letters still in an open or
    half-closed batch."""
    outbox, out = site.root / "print", Counter()
    for manifest in outbox.glob("*.csv"):
        for row in csv.DictReader(io.StringIO(manifest.read_text(encoding="utf-8")), delimiter=";"):
            out[row["delivery_id"]] += 1
    pending = sum(1 for p in outbox.glob("open/*.pdf")) + sum(1 for p in outbox.glob("closing/*/*.pdf"))
    return out, pending


# ============================================================================================ the checks


@dataclass
class Findings:
    records: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)  # poison batches: accounted for, not lost (printed)
    counts: dict[str, int] = field(default_factory=dict)

    def line(self, kills: int) -> str:
        return (f"chaos: kills {kills}, records {self.records}, lost {len(self.lost)}, "
                f"duplicated {len(self.duplicated)}, stuck {len(self.stuck)}")


def check(site: Site, files: list[Dropped], evidence: dict) -> Findings:
    """Every invariant of the module's table, read from the database, the channels and the drop zones."""
    from erechnung.state import make_engine
    from sqlalchemy.orm import Session

    found = Findings()
    engine = make_engine(site.db_url)
    try:
        with Session(engine) as s:
            _check_records(s, files, found)
            _check_deliveries(s, site, evidence, found)
            _check_claims(s, site, found)
    finally:
        engine.dispose()
    return found


def _check_records(s, files: list[Dropped], found: Findings) -> None:
    """Every row of every distinct dropped file: exactly one record, a documented one with exactly one document
    of its own, a quarantined one with its reasons."""
    from sqlalchemy import func, select

    from erechnung.state.schema import Batch, Document, Quarantine, Record

    distinct = {(f.department, f.sha256): f for f in files}
    found.records = sum(f.records for f in distinct.values())
    batches = {(b.department, b.sha256): b for b in s.scalars(select(Batch))}
    documents = Counter(s.execute(select(Document.batch_id)).scalars())
    reasons = Counter(s.execute(select(Quarantine.batch_id, Quarantine.row)).all())
    documented = quarantined = 0
    for key, f in sorted(distinct.items(), key=lambda kv: kv[1].name):
        b = batches.get(key)
        if b is None:
            found.lost.append(f"{f.department}/{f.name}: {f.records} record(s), the file was never taken in")
            continue
        if b.poison_reason:  # the file's quarantine: archived, set aside with its reason, reported
            found.set_aside.append(f"{f.department}/{f.name}: {f.records} record(s), batch {b.id} set aside as "
                                   f"poison after {b.attempts} attempts: {b.poison_reason}")
            continue
        rows, docs_of_records = Counter(), Counter()
        for r in s.scalars(select(Record).where(Record.batch_id == b.id)):
            rows.update(range(r.row_first, r.row_last + 1))
            if r.status == "documented":
                documented += 1
                if r.document_id is None:
                    found.lost.append(f"{f.department}/{f.name} row {r.row_first}: documented without a document")
                else:
                    docs_of_records[r.document_id] += 1
            else:
                quarantined += 1
                if not any(reasons[(b.id, row)] for row in range(r.row_first, r.row_last + 1)):
                    found.lost.append(f"{f.department}/{f.name} row {r.row_first}: quarantined without a reason")
        if len(rows) < f.records:
            found.lost += [f"{f.department}/{f.name}: row {i + 1} of {f.records} has no record (batch {b.id}, "
                           f"{b.status})" for i in range(f.records - len(rows))]
        found.duplicated += [f"{f.department}/{f.name} row {row}: {n} records" for row, n in rows.items() if n > 1]
        found.duplicated += [f"{f.department}/{f.name}: document {d} is the document of {n} records"
                             for d, n in docs_of_records.items() if n > 1]
        extra = documents[b.id] - len(docs_of_records)
        found.duplicated += [f"{f.department}/{f.name}: a document of batch {b.id} that no record names"] * extra
    found.counts.update(documented=documented, quarantined=quarantined,
                        broken=sum(f.broken for f in distinct.values()),
                        documents=s.execute(select(func.count()).select_from(Document)).scalar_one())


def _check_deliveries(s, site: Site, evidence: dict, found: Findings) -> None:
    """Every document handed over; every handed-over one delivered once or dead-lettered; every delivery that
    went out received by its channel once (e-mail: once more for each resend on record)."""
    from sqlalchemy import select

    from erechnung.state.delivery_schema import DeadLetter, Delivery, DeliveryEvent
    from erechnung.state.schema import Document

    received = {"email": mails(site), "bundid": Counter(evidence.get("bundid", {})),
                "elster": Counter(evidence.get("elster", {}))}
    received["print"], pending_letters = letters(site)
    resends = Counter(e.delivery_id for e in s.scalars(
        select(DeliveryEvent).where(DeliveryEvent.from_state == "sending", DeliveryEvent.to_state == "sending"))
        if (e.detail or {}).get("resend_after_crash"))
    dead = set(s.execute(select(DeadLetter.document_id)).scalars())
    by_document: dict[int, list] = {}
    known: set[str] = set()
    extra_mails = 0
    for d in s.scalars(select(Delivery).order_by(Delivery.id)):
        by_document.setdefault(d.document_id, []).append(d)
        known.add(d.idempotency_key)
        copies = received.get(d.channel, Counter())[d.idempotency_key]
        where = f"delivery {d.idempotency_key} ({d.state})"
        if d.state == "sending":
            found.stuck.append(f"{where}: still sending after recovery")
        if d.state in WENT_OUT and d.channel in received and copies == 0:
            found.lost.append(f"{where}: recorded as sent, its channel never received it")
        allowed = 1 + resends[d.id] if d.channel == "email" else 1
        if copies > allowed:
            found.duplicated.append(f"{where}: received {copies} times"
                                    + (f", {resends[d.id]} resend(s) on record" if d.channel == "email" else ""))
        if d.channel == "email" and copies > 1:
            extra_mails += copies - 1
    for channel, got in received.items():
        found.duplicated += [f"{channel}: received {n} time(s) for {key}, which is no delivery of the trail"
                             for key, n in got.items() if key not in known]
    states = Counter()
    for doc in s.scalars(select(Document).order_by(Document.id)):
        states[doc.state] += 1
        if doc.state == "rejected":
            continue
        if doc.state != "handed_over":
            found.lost.append(f"document {doc.id} ({doc.department} {doc.number}): still {doc.state}, never "
                              "handed over")
            continue
        ds = by_document.get(doc.id, [])
        out = [d for d in ds if d.state in WENT_OUT]
        if len(out) > 1:
            found.duplicated.append(f"document {doc.id}: {len(out)} deliveries went out "
                                    f"({', '.join(d.idempotency_key for d in out)})")
        if not out and doc.id not in dead and not any(d.state == "sending" for d in ds):
            found.lost.append(f"document {doc.id} ({doc.department} {doc.number}): neither delivered nor a dead "
                              f"letter (deliveries: {', '.join(f'{d.channel} {d.state}' for d in ds) or 'none'})")
    if pending_letters:
        found.stuck.append(f"print: {pending_letters} letter(s) left in an open or half-closed batch")
    found.counts.update(deliveries=sum(len(v) for v in by_document.values()), dead_letters=len(dead),
                        email_resends=sum(resends.values()), extra_mails=extra_mails,
                        rejected=states["rejected"],
                        **{f"received_{k}": sum(v.values()) for k, v in received.items()})


def _check_claims(s, site: Site, found: Findings) -> None:
    """Nothing claimed past recovery: no batch ``claimed``, no department lock held, no file under claimed/."""
    from sqlalchemy import select

    from erechnung.pipeline.locks import PREFIX
    from erechnung.state.schema import Batch

    now = datetime.now(timezone.utc)
    for b in s.scalars(select(Batch).where(Batch.status == "claimed")):
        if b.department.startswith(PREFIX):
            if b.lease_until is not None and b.lease_until > now:
                found.stuck.append(f"department lock {b.department.removeprefix(PREFIX)} held by {b.claimed_by}")
        else:
            found.stuck.append(f"batch {b.id} ({b.department}/{b.source_key}) still claimed by {b.claimed_by}")
    for zone in (site.root / "dropzones").iterdir():
        found.stuck += [f"{zone.name}/claimed/{p.name}: left claimed" for p in (zone / "claimed").glob("*")
                        if p.is_file()]
        found.stuck += [f"{zone.name}/{p.name}: left in the drop zone" for p in zone.iterdir() if p.is_file()]


# ============================================================================================ the loop


def verify(commands: Commands) -> dict[str, int]:
    """``erechnung audit verify`` and ``erechnung archive verify``: their exit codes (0: OK)."""
    out = {}
    for name, argv in (("audit verify", ["audit", "verify"]), ("archive verify", ["archive", "verify"])):
        log = commands.site.root / "logs" / f"{name.replace(' ', '-')}.log"
        with open(log, "wb") as fh:
            out[name] = subprocess.run([sys.executable, "-m", "erechnung", *argv, "--config",
                                        str(commands.site.config)], stdout=fh, stderr=subprocess.STDOUT,
                                       cwd=commands.site.root, timeout=600).returncode
        print(f"{name}: {'OK' if out[name] == 0 else f'exit {out[name]}'} (log {log})", flush=True)
        if out[name]:
            print(_tail(log, 15), flush=True)
    return out


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def _settled(site: Site) -> bool:
    """Nothing left to do: no file in a drop zone, no document short of handed over or rejected, no delivery
    queued or sending, nothing handed over without a delivery or a dead letter."""
    from sqlalchemy import exists, func, select

    from erechnung.state import make_engine
    from erechnung.state.delivery_schema import DeadLetter, Delivery
    from erechnung.state.schema import Batch, Document
    from sqlalchemy.orm import Session

    if any(p.is_file() for zone in (site.root / "dropzones").iterdir() for p in [*zone.iterdir(),
                                                                                  *zone.glob("claimed/*")]):
        return False
    engine = make_engine(site.db_url)
    try:
        with Session(engine) as s:
            def count(q):
                return s.execute(select(func.count()).select_from(q.subquery())).scalar_one()

            return not (count(select(Batch.id).where(Batch.status == "claimed", ~Batch.department.startswith("_")))
                        or count(select(Document.id).where(Document.state.in_(("numbered", "rendered", "archived"))))
                        or count(select(Delivery.id).where(Delivery.state.in_(("queued", "sending"))))
                        or count(select(Document.id).where(
                            Document.state == "handed_over", ~exists().where(Delivery.document_id == Document.id),
                            ~exists().where(DeadLetter.document_id == Document.id))))
    finally:
        engine.dispose()


def recover(commands: Commands, rounds: int = 6) -> int:
    """``run``, ``deliver`` and ``track`` without kills until nothing is left (at most ``rounds`` times; tracking
    can hand a delivery to the next channel, which the next round's ``deliver`` sends); the rounds it took."""
    for n in range(1, rounds + 1):
        for command in ("run", "deliver", "track"):
            code, seconds, log = commands.run(command)
            print(f"recovery {n}: {command} exit {code} in {seconds:.1f} s", flush=True)
            if code not in (0, 1):
                print(_tail(log), flush=True)
        if _settled(commands.site):
            return n
        time.sleep(2)  # a retry's backoff (1-4 s in this installation)
    return rounds


def chaos(args) -> int:
    began = time.monotonic()
    root = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="erechnung-chaos-"))
    created = args.db is None
    db_url = create_database(args.pg_admin) if created else args.db
    try:
        if not db_url.startswith("postgresql"):
            raise SystemExit(f"chaos: --db must be a PostgreSQL URL, not {db_url!r}")
        site = make_site(root, db_url)
        print(f"chaos: seed {args.seed}, {args.kills} kills, installation {root}, database {db_url}", flush=True)
        sandboxes = start_sandboxes(site)
        try:
            kills, found, verified = _kill_and_check(args, site, sandboxes)
        finally:
            sandboxes.stop()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
            if created:
                drop_database(args.pg_admin, db_url)
    print(f"duration {time.monotonic() - began:.0f} s")
    print(found.line(kills), flush=True)
    return 1 if (found.lost or found.duplicated or found.stuck or any(verified.values())) else 0


def _kill_and_check(args, site: Site, sandboxes) -> tuple[int, Findings, dict[str, int]]:
    rng = random.Random(args.seed)
    files = make_exports(args.records, rng, args.batch_size)
    save_exports(site.root, files)
    commands = Commands(site, workers=args.workers)
    queue, dropped, redropped = list(files), [], 0

    def drop_share(until: float) -> None:
        nonlocal redropped
        while queue and len(dropped) < round(len(files) * until):
            f = queue.pop()
            drop(site, f)
            dropped.append(f)
            if rng.random() < REDROP_SHARE:  # the same export delivered again, under another name
                drop(site, f, f"nochmal-{len(dropped)}-{f.name}")
                redropped += 1

    # a normal run, delivery and tracking first: how long each takes is what the kills spread over
    drop_share(1 / (args.kills + 1))
    typical = {}
    for command in ("run", "deliver", "track"):
        code, typical[command], log = commands.run(command)
        print(f"measured: {command} exit {code} in {typical[command]:.1f} s", flush=True)
    kills = completed = 0
    killed_since = Counter()
    while kills < args.kills:
        drop_share((kills + 1) / (args.kills + 1))
        command = rng.choices(list(COMMANDS), weights=list(COMMANDS.values()))[0]
        if killed_since[command] >= MEASURE_EVERY:
            # the work grows while runs die: one run to its end says how long the command takes now
            code, typical[command], log = commands.run(command)
            killed_since[command], completed = 0, completed + 1
            print(f"measured: {command} exit {code} in {typical[command]:.1f} s", flush=True)
        delay = rng.uniform(0.05, 1.0) * typical[command]
        killed, code, seconds, log = commands.kill_after(command, delay)
        if killed:
            kills += 1
            killed_since[command] += 1
            print(f"kill {kills}/{args.kills}: {command} after {seconds:.1f} s (typical {typical[command]:.1f} s, "
                  f"log {log.name})", flush=True)
        else:
            completed += 1
            typical[command] = 0.5 * typical[command] + 0.5 * seconds  # the work changes as files come
            print(f"   {command} ended by itself in {seconds:.1f} s (exit {code}) before its kill at {delay:.1f} s",
                  flush=True)
    drop_share(1.0)
    rounds = recover(commands)
    evidence = collect_evidence(site, sandboxes)
    found = check(site, files, evidence)
    verified = verify(commands)
    c = found.counts
    print(f"files {len(files)} (+{redropped} dropped again under another name), processes {commands.started} "
          f"({kills} killed, {completed} ran to their end), recovery rounds {rounds}")
    print(f"records {found.records}: documents {c['documents']} (rejected {c['rejected']}), quarantined "
          f"{c['quarantined']} (broken on purpose {c['broken']})")
    print(f"deliveries {c['deliveries']}, dead letters {c['dead_letters']}; received: e-mails {c['received_email']} "
          f"({c['extra_mails']} resent, {c['email_resends']} resend(s) on record), BundID "
          f"{c['received_bundid']}, ELSTER {c['received_elster']}, letters {c['received_print']}")
    for what in ("set_aside", "lost", "duplicated", "stuck"):
        items = getattr(found, what)
        for item in items[:25]:
            print(f"{what}: {item}")
        if len(items) > 25:
            print(f"{what}: ... and {len(items) - 25} more")
    return kills, found, verified


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=50, help="processes to kill (default 50)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the random choices (default: a new one, printed)")
    ap.add_argument("--records", type=int, default=1500, help="records in the departments' exports (default 1500)")
    ap.add_argument("--batch-size", type=int, default=25, help="records per export file (default 25)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes of each run (default 1)")
    ap.add_argument("--db", default=None, help="a PostgreSQL URL to use (default: a fresh database chaos_<random> "
                                                "on --pg-admin's server, dropped at the end)")
    ap.add_argument("--pg-admin", default=PG_ADMIN, help="where the fresh database is created (default "
                                                         "ERECHNUNG_TEST_POSTGRES or %(default)s)")
    ap.add_argument("--keep", metavar="DIR", help="make the installation in DIR and keep it and the database")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 10**6)
    return chaos(args)


if __name__ == "__main__":
    sys.exit(main())
