"""The delivery guarantees, with real processes and the real SMTP sandbox:

* several delivery workers (processes, and threads) against one database never send a delivery twice: every
  send call is counted at the sink, which does not deduplicate;
* a worker killed with SIGKILL between send and commit, and restarted, neither loses nor duplicates a
  delivery at a sink that recognises the idempotency key (the file-backed sink's receipt log);
* a worker killed at a random moment while mailing through the SMTP sandbox loses nothing: every delivery's
  Message-ID is in the recipient's Maildir, each delivery is recorded sent once, and a second copy can only
  exist where the audit trail shows a resend after a crash (email cannot deduplicate: see service.py);
* end to end over the sandbox: the invoice arrives as mail, a bounce comes back as DSN, the delivery falls back
  to print.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from erechnung.delivery.audit import verify_chain
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import deliver_due
from erechnung.delivery.track import track
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import Delivery, DeliveryEvent

from .fakes import FakeConnector, FileSink
from .world import add_documents, body, config, content, recipient

WORKER = Path(__file__).resolve().parent / "worker.py"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def plan(engine, n, who=None, *, connectors=None, now=None):
    """Queue ``n`` deliveries, due at ``now``. The worker processes send with the real clock (their leases must
    run out in real time), so they are planned a second before it; in-process tests pass their own clock."""
    docs = add_documents(engine, n, who=who)
    connectors = connectors or {"email": FakeConnector("email"), "print": FakeConnector("print")}
    now = now if now is not None else datetime.now(timezone.utc) - timedelta(seconds=1)
    plan_deliveries(session_factory(engine), config(), now=now, connectors=connectors)
    return docs


def spawn(db_url, worker, **kw):
    args = {"db": db_url, "worker": worker, **kw}
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(args, default=str)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    return proc


def wait_ready(proc):
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


def sent_events(engine):
    with transaction(engine) as s:
        return Counter(s.execute(select(DeliveryEvent.delivery_id).where(DeliveryEvent.to_state == "sent")).scalars())


def states(engine):
    with transaction(engine) as s:
        return Counter(s.execute(select(Delivery.state)).scalars())


def keys(engine):
    with transaction(engine) as s:
        return sorted(s.execute(select(Delivery.idempotency_key)).scalars())


def test_several_worker_processes_never_send_the_same_delivery_twice(db_url, engine, tmp_path):
    n = 40
    plan(engine, n)
    sink = FileSink(tmp_path / "sink")
    go = tmp_path / "go"
    # A lease far longer than any send: this test is about concurrent claims, not about slow workers whose
    # lease runs out (that is the at-least-once case the crash tests below cover). With the test worker's
    # 3 s default a starved worker on a loaded machine lost its lease mid-send and the delivery went twice.
    procs = [spawn(db_url, f"w{i}", sink=str(sink.root), delay=0.02, batch_size=3, go=str(go), lease=300)
             for i in range(4)]
    for p in procs:
        wait_ready(p)
    go.touch()
    for p in procs:
        finish(p)
    calls = Counter(sink.calls())
    assert sorted(calls) == keys(engine) and set(calls.values()) == {1}  # every send call, not deduplicated
    assert states(engine) == {"sent": n}
    assert set(sent_events(engine).values()) == {1} and len(sent_events(engine)) == n
    with transaction(engine) as s:
        workers = {d["worker"] for d in s.execute(select(DeliveryEvent.detail)
                                                  .where(DeliveryEvent.to_state == "sending")).scalars()}
        assert verify_chain(s).ok
    assert len(workers) > 1


def test_several_worker_threads_never_send_the_same_delivery_twice(engine):
    n = 30
    email = FakeConnector("email", delay=0.005)
    conns = {"email": email, "print": FakeConnector("print")}
    for fake in conns.values():  # receipts on the test's clock, as planning and sending are
        fake.now = T0 + timedelta(minutes=1)
    plan(engine, n, connectors=conns, now=T0)
    sf, barrier = session_factory(engine), threading.Barrier(4)
    errors = []

    def work(name):
        try:
            barrier.wait()
            deliver_due(sf, conns, T0 + timedelta(minutes=1), config=config(worker=name, batch_size=2),
                        content=content)
        except Exception as exc:  # pragma: no cover - shown below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(email.calls) == keys(engine) and set(email.calls.values()) == {1}
    assert states(engine) == {"sent": n}


def test_sigkill_between_send_and_commit_then_restart_neither_loses_nor_duplicates(db_url, engine, tmp_path):
    n = 8
    plan(engine, n)
    sink = FileSink(tmp_path / "sink")
    first = spawn(db_url, "doomed", sink=str(sink.root), kill_after=3, lease=2, batch_size=2)
    first.communicate(timeout=240)
    assert first.returncode == -signal.SIGKILL
    assert len(sink.accepted_lines()) == 3 and states(engine)["sent"] == 2  # the 3rd was sent, not recorded
    again = spawn(db_url, "restarted", sink=str(sink.root), lease=2, batch_size=2)
    finish(again)
    accepted = sink.accepted_lines()
    assert sorted(accepted) == keys(engine)  # none lost, none twice at the sink
    calls = Counter(sink.calls())
    assert sum(calls.values()) - n >= 1  # the restart sent the unrecorded one again, recognised by its key
    assert states(engine) == {"sent": n} and set(sent_events(engine).values()) == {1}
    with transaction(engine) as s:
        resent = s.execute(select(func.count()).select_from(DeliveryEvent).where(
            DeliveryEvent.from_state == "sending", DeliveryEvent.to_state == "sending")).scalar_one()
        assert resent >= 1 and verify_chain(s).ok


# ------------------------------------------------------------------------------------------- SMTP sandbox

from connectors.conftest import (email_settings, pki, smtp, smtp_password, smtp_server,  # noqa: E402,F401
                               unique_address)  # the channel tests' sandbox fixtures, reused


def message_ids(sandbox, address):
    return [m["Message-ID"] for m in sandbox.messages(address)]


def expected_message_id(key):
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.erechnung@"


def test_sigkill_at_a_random_moment_while_mailing_loses_nothing(db_url, engine, smtp, pki, smtp_password):
    n = 20
    address = unique_address("kill")
    plan(engine, n, who=recipient(email=address, consents=frozenset({"email_invoices"})))
    settings = email_settings(smtp, pki)
    smtp_args = {k: getattr(settings, k) for k in ("host", "port", "sender", "username", "password_env",
                                                   "ca_file", "bounce_maildir", "timeout", "helo_name")}
    first = spawn(db_url, "doomed", smtp=smtp_args, lease=2, batch_size=3)
    wait_ready(first)
    deadline = time.monotonic() + 120
    while len(message_ids(smtp, address)) < 5 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    first.kill()  # SIGKILL, wherever it is
    first.communicate(timeout=60)
    finish(spawn(db_url, "restarted", smtp=smtp_args, lease=2, batch_size=3))
    ids = message_ids(smtp, address)
    assert len(set(ids)) == n  # every delivery arrived
    for k in keys(engine):
        assert any(i.startswith(expected_message_id(k)) for i in ids), k
    assert states(engine) == {"sent": n} and set(sent_events(engine).values()) == {1}
    with transaction(engine) as s:
        resent = s.execute(select(func.count()).select_from(DeliveryEvent).where(
            DeliveryEvent.from_state == "sending", DeliveryEvent.to_state == "sending")).scalar_one()
        assert verify_chain(s).ok
    assert len(ids) - n <= resent  # a second copy only where the trail shows a resend after the crash


def test_end_to_end_invoice_by_mail_then_bounce_falls_back_to_print(engine, smtp, pki, smtp_password):
    from mailbox_connectors.email import EmailConnector

    address = unique_address("e2e")
    bounced = unique_address("bounce")
    [ok_doc] = add_documents(engine, 1, who=recipient("K-1", email=address, consents=frozenset({"email_invoices"})))
    [bad_doc] = add_documents(engine, 1, who=recipient("K-2", email=bounced, consents=frozenset({"email_invoices"})))
    smtp.bounce(bounced)
    sf, cfg = session_factory(engine), config(key_prefix=f"e2e{uuid.uuid4().hex[:8]}")
    now = datetime.now(timezone.utc)  # the sandbox's reports carry the real time
    with EmailConnector(email_settings(smtp, pki)) as email:
        conns = {"email": email, "print": FakeConnector("print")}
        plan_deliveries(sf, cfg, now=now, connectors=conns)
        summary = deliver_due(sf, conns, now, config=cfg, content=content)
        assert len(summary.sent) == 2
        [mail] = smtp.messages(address)
        assert mail["Message-ID"].startswith(expected_message_id(f"{cfg.key_prefix}-{ok_doc}-email-1"))
        [attachment] = [p for p in mail.walk() if p.get_filename()]
        assert attachment.get_payload(decode=True) == body(ok_doc)
        assert smtp.wait_for_reports(2, timeout=30)  # DSN delivered for one, failed for the other
        tracked = track(sf, conns, now + timedelta(minutes=5), config=cfg)
        assert len(tracked.applied) == 2 and len(tracked.fell_back) == 1
        deliver_due(sf, conns, now + timedelta(minutes=6), config=cfg, content=content)
    with transaction(engine) as s:
        rows = {(d.document_id, d.channel): d.state for d in s.execute(select(Delivery)).scalars()}
        failed = s.execute(select(DeliveryEvent).where(DeliveryEvent.to_state == "failed")).scalar_one()
        assert failed.evidence_type and b"delivery-status" in failed.evidence
        assert verify_chain(s).ok
    assert rows == {(ok_doc, "email"): "delivered", (bad_doc, "email"): "fell_back", (bad_doc, "print"): "sent"}
