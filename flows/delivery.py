"""Delivery as Prefect flows: thin wrappers over :mod:`erechnung.delivery.run`, one task per step or chunk.

``deliver_flow``  (deployment ``zustellen``, every 10 minutes on working days): ``track`` first (so deliveries
                  whose channel failed are queued on the next one), ``plan`` (the first delivery of every
                  handed-over document), then ``send`` tasks of up to ``chunk_size`` deliveries each until nothing
                  is due, and ``print-batch`` (the letters of the run as one PDF for the print shop). Publishes
                  the deliveries by state and the dead letters as artifacts.
``track_flow``    (deployment ``verfolgen``, every 30 minutes): status events of every channel (DSNs, event
                  tokens, retrieval confirmations, ELSTER answers), retrieval deadlines (§ 41 Abs. 2a VwVfG),
                  notification dates, fallbacks.

Per-delivery state is in our own tables (``deliveries``, ``delivery_events``); Prefect sees only chunks.
Several flow runs at once (or a flow run beside ``erechnung deliver``) never send a delivery twice: the service
claims deliveries with a lease (``erechnung.delivery.send``).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

if __name__ == "__main__":  # started as a script: the offline settings before Prefect is imported
    from flows.settings import apply

    apply()

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from erechnung.delivery.run import (DeliverRun, DeliveryState, TrackRun, add_sent, plan_step, print_step,
                                    send_step, track_run)
from erechnung.config import load_config
from erechnung.model.clock import berlin_text
from erechnung.model.labels import label
from erechnung.entrypoints.wiring import open_connectors

TASK = dict(cache_policy=NONE, retries=0, persist_result=False)


@task(name="track", **TASK)
def track_task(config, wired, db_url: Optional[str]) -> TrackRun:
    return track_run(config, wired.connectors, wired.delivery_config, db_url=db_url)


@task(name="plan", **TASK)
def plan_task(st: DeliveryState, wired) -> tuple[int, int]:
    plan = plan_step(st, wired.connectors, wired.delivery_config)
    return len(plan.planned), len(plan.dead)


@task(name="send", **TASK)
def send_task(st: DeliveryState, wired, limit: int):
    return send_step(st, wired.connectors, wired.delivery_config, limit=limit)


@task(name="print-batch", **TASK)
def print_task(wired) -> tuple[Optional[str], int]:
    return print_step(wired.connectors)


def _publish(st: DeliveryState, run: DeliverRun | TrackRun, title: str) -> None:
    from erechnung.delivery.report import dead_letter_records

    create_table_artifact(table=[{"Zustand": label(k), "Zustellungen": v} for k, v in sorted(run.states.items())],
                          key="erechnung-deliveries", description=f"{title}: Zustellungen nach Zustand")
    with st.sf() as s:
        dead = dead_letter_records(s)
    lines = [f"## {title}", "", f"Stand: {berlin_text(datetime.now(timezone.utc), seconds=True)}", "",
             *[f"- {line}" for line in run.lines()]]
    if dead:
        lines += ["", f"### Nicht zustellbar ({len(dead)})", ""]
        lines += [f"- Dokument {d['document_number'] or d['document_id']} ({d['recipient_ref'] or '–'}): "
                  f"{d['reason']}" for d in dead]
    create_markdown_artifact(markdown="\n".join(lines), key="erechnung-delivery-report",
                             description="Was dieser Lauf zugestellt hat, und was nicht zustellbar ist")


@flow(name="erechnung-deliver")
def deliver_flow(config: str = "examples/config.toml", db_url: Optional[str] = None, chunk_size: int = 200,
                 track_first: bool = True) -> dict[str, Any]:
    """Deliver every due document (see the module docstring)."""
    log = get_run_logger()
    cfg = load_config(config)
    with open_connectors(cfg) as wired, DeliveryState(cfg, db_url) as st:
        if track_first:
            tracked = track_task(quote(cfg), quote(wired), db_url)
            log.info("track: %s", tracked.lines()[0])
        planned, dead = plan_task(quote(st), quote(wired))
        run = DeliverRun(planned=planned, dead=dead)
        while True:
            sent = send_task(quote(st), quote(wired), chunk_size)
            add_sent(run, sent)
            if not (sent.sent or sent.retried or sent.failed or sent.fell_back or sent.dead or sent.lost_claim):
                break
        run.print_batch, run.letters = print_task(quote(wired))
        run.states = st.states()
        run.checkpoint = st.checkpoint()  # the chain's head kept in the archive (erechnung.delivery.run)
        _publish(st, run, "Zustellung")
    for line in run.lines():
        log.info(line)
    return {"planned": run.planned, "sent": run.sent, "retried": run.retried, "fell_back": run.fell_back,
            "dead": run.dead, "print_batch": run.print_batch, "letters": run.letters, "states": run.states}


@flow(name="erechnung-track")
def track_flow(config: str = "examples/config.toml", db_url: Optional[str] = None) -> dict[str, Any]:
    """Collect status events, expire overdue deliveries, compute notification dates, queue fallbacks."""
    cfg = load_config(config)
    with open_connectors(cfg) as wired, DeliveryState(cfg, db_url) as st:
        run = track_task(quote(cfg), quote(wired), db_url)
        _publish(st, run, "Verfolgung")
    get_run_logger().info(run.lines()[0])
    return {"events": run.events, "expired": run.expired, "notified": run.notified, "fell_back": run.fell_back,
            "dead": run.dead, "states": run.states}


if __name__ == "__main__":  # python -m flows.delivery [config]
    import sys

    print(deliver_flow(*sys.argv[1:2]))
