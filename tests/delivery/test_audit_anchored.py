"""``erechnung audit verify`` against what a chain whose head lives in the same database cannot show alone: the
archive's checkpoint of the head (written by every deliver/track run, where the database cannot rewrite it), the
deliveries' states and the notification dates. Each tampering here is plain SQL, as an intruder or a careless
administrator would do it, on SQLite and PostgreSQL; the chain's links alone verify after each of them."""
from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select, text

from erechnung.archive import Archive
from erechnung.delivery.audit import checkpoint_head, verify_chain
from erechnung.entrypoints.cli.delivery import run_audit_verify
from erechnung.delivery.plan import plan_deliveries
from erechnung.delivery.send import deliver_due
from erechnung.state import session_factory, transaction
from erechnung.state.delivery_schema import Delivery, NotificationDate
from erechnung.storage.local import LocalStorage

from .fakes import FakeConnector
from .test_audit import T0, events_count, trail  # noqa: F401  (the fixture: 3 documents, 11 events)
from .world import add_documents, config, content, recipient


def _site(tmp_path, engine):
    """The configuration naming ``tmp_path/archive``, and the chain's head checkpointed there (as a run does)."""
    from erechnung.entrypoints.demo.pipeline import config_text

    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(tmp_path), encoding="utf-8")
    archive = Archive(LocalStorage(tmp_path / "archive"))
    with transaction(engine) as s:
        cp = checkpoint_head(s, archive)
    return cfg, cp


def _verify(db_url, cfg) -> tuple[int, str]:
    out = io.StringIO()
    return run_audit_verify(db_url, out, config=cfg), out.getvalue()


def _chain_alone_ok(engine) -> bool:
    with transaction(engine) as s:
        return verify_chain(s).ok


def test_untouched_trail_verifies_against_its_checkpoint(db_url, engine, trail, tmp_path):
    cfg, cp = _site(tmp_path, engine)
    assert cp.seq == events_count(engine)
    code, out = _verify(db_url, cfg)
    assert code == 0, out
    assert f"Prüfpunkt im Archiv: Ereignis {cp.seq}" in out and "OK: Kette, Prüfpunkt" in out


def test_last_events_deleted_and_head_rewound_are_found_by_the_checkpoint(db_url, engine, trail, tmp_path):
    cfg, cp = _site(tmp_path, engine)
    n = cp.seq
    with engine.begin() as c:
        c.execute(text("DELETE FROM delivery_events WHERE seq > :k"), {"k": n - 3})
        head = c.execute(text("SELECT hash FROM delivery_events WHERE seq = :k"), {"k": n - 3}).scalar_one()
        c.execute(text("UPDATE delivery_chain SET seq = :k, head_hash = :h"), {"k": n - 3, "h": head})
    assert _chain_alone_ok(engine)  # the links hold: only the checkpoint shows the cut
    code, out = _verify(db_url, cfg)
    assert code == 1 and f"Ereignis {n - 2}..{n} fehlen" in out, out


def test_chain_rewritten_and_checkpointed_again_by_a_later_run_is_found_by_the_earlier_checkpoint(
        db_url, engine, trail, tmp_path):
    """The intruder cuts the last events, rewinds the head, and a later run appends and checkpoints its new head:
    the newest checkpoint agrees with the rewritten chain, the one written before the rewrite does not."""
    cfg, cp = _site(tmp_path, engine)
    n = cp.seq
    with engine.begin() as c:
        c.execute(text("DELETE FROM delivery_events WHERE seq > :k"), {"k": n - 3})
        head = c.execute(text("SELECT hash FROM delivery_events WHERE seq = :k"), {"k": n - 3}).scalar_one()
        c.execute(text("UPDATE delivery_chain SET seq = :k, head_hash = :h"), {"k": n - 3, "h": head})
    add_documents(engine, 3, who=recipient("K-7"))
    sf, conns = session_factory(engine), {"email": FakeConnector("email"), "print": FakeConnector("print")}
    plan_deliveries(sf, config(), now=T0 + timedelta(days=1), connectors=conns)
    deliver_due(sf, conns, T0 + timedelta(days=1), config=config(), content=content)
    with transaction(engine) as s:
        later = checkpoint_head(s, Archive(LocalStorage(tmp_path / "archive")))
    assert later.seq > n and _chain_alone_ok(engine)
    code, out = _verify(db_url, cfg)
    assert code == 1 and f"Ereignis {n} hat nicht den Hash des Prüfpunkts" in out, out
    assert f"Prüfpunkt im Archiv: Ereignis {later.seq}" in out  # the newest one, which the rewrite satisfies


def test_all_events_and_the_head_deleted_while_deliveries_remain_are_found(db_url, engine, trail, tmp_path):
    cfg, cp = _site(tmp_path, engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM delivery_events"))
        c.execute(text("DELETE FROM delivery_chain"))
        deliveries = c.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
    assert _chain_alone_ok(engine)
    code, out = _verify(db_url, cfg)
    assert code == 1
    assert f"Ereignis 1..{cp.seq} fehlen" in out and f"{deliveries} Zustellung(en) ohne ein Ereignis" in out, out
    code, out = _verify(db_url, None)  # without the archive the deliveries alone still show it
    assert code == 1 and f"{deliveries} Zustellung(en) ohne ein Ereignis" in out, out


def test_forged_delivery_state_is_found(db_url, engine, trail, tmp_path):
    cfg, _ = _site(tmp_path, engine)
    with transaction(engine) as s:
        sent = s.execute(select(Delivery.id).where(Delivery.state == "sent").order_by(Delivery.id)).scalars().first()
    with engine.begin() as c:
        c.execute(text("UPDATE deliveries SET state = 'delivered' WHERE id = :i"), {"i": sent})
    assert _chain_alone_ok(engine)
    code, out = _verify(db_url, cfg)
    assert code == 1 and f"Zustand von Zustellung {sent} ist 'delivered', die Kette sagt 'sent'" in out, out


def _notice_by_letter(engine):
    """A notice sent by letter: its notification date (§ 41 Abs. 2 VwVfG) is computed and stored at once."""
    add_documents(engine, 1, kind="notice", who=recipient("K-9"), prefix="BS-2026-")
    sf, cfg = session_factory(engine), config()
    conns = {"print": FakeConnector("print")}
    plan_deliveries(sf, cfg, now=T0, connectors=conns)
    deliver_due(sf, conns, T0, config=cfg, content=content)
    with transaction(engine) as s:
        return s.execute(select(NotificationDate)).scalar_one()


def test_forged_notification_date_is_found(db_url, engine, tmp_path):
    nd = _notice_by_letter(engine)
    cfg, _ = _site(tmp_path, engine)
    assert _verify(db_url, cfg)[0] == 0
    forged = nd.computed_date - timedelta(days=2)
    with engine.begin() as c:
        c.execute(text("UPDATE notification_dates SET computed_date = :d"), {"d": forged})
    assert _chain_alone_ok(engine)
    code, out = _verify(db_url, cfg)
    assert code == 1
    assert (f"Bekanntgabedatum von Zustellung {nd.delivery_id} ist {forged.isoformat()}, aus den Zeitpunkten der "
            f"Kette folgt {nd.computed_date.isoformat()}") in out, out


def test_forged_notification_time_is_found(db_url, engine, tmp_path):
    nd = _notice_by_letter(engine)
    cfg, _ = _site(tmp_path, engine)
    with engine.begin() as c:
        c.execute(text("UPDATE notification_dates SET notification_sent_at = :t"),
                  {"t": nd.notification_sent_at - timedelta(days=3)})
    code, out = _verify(db_url, cfg)
    assert code == 1 and f"Bekanntgabedatum von Zustellung {nd.delivery_id}: Versand" in out, out
