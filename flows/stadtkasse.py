"""The Stadtkasse's scheduled work as Prefect flows (issue 15): thin wrappers over :mod:`erechnung.stadtkasse`.

``statements_flow`` (deployment ``kontoauszuege-taeglich``, working days at 7:00): the bank's files from
                    ``[stadtkasse] statements``, each imported on its own (booked once per entry, matched, the
                    rest on the clarification list), then moved to ``eingelesen/`` (or ``abgewiesen/`` with the
                    reason); the open items' Sollstellung first, so that yesterday's documents can be matched.
``dunning_flow``    (deployment ``mahnlauf-woechentlich``, Mondays at 6:00): the dunning stages due today,
                    recorded with their fees and surcharges (``dry_run``: only listed); the letters of the steps
                    recorded go as a batch to the dunning department's drop zone ([stadtkasse] dunning_department).

Each publishes its summary (German) as a markdown artifact.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Optional

if __name__ == "__main__":  # started as a script: the offline settings before Prefect is imported
    from flows.settings import apply

    apply()

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from erechnung.config import database_url, load_config, location_url
from erechnung.config.s3 import s3_options
from erechnung.model.clock import berlin_text
from erechnung.stadtkasse.dunning import dunning_run
from erechnung.stadtkasse.statements import import_statements
from erechnung.state import make_engine, migrate
from erechnung.storage import open_storage


def _engine(cfg, db_url: Optional[str]):
    engine = make_engine(db_url or database_url(cfg))
    migrate(engine)
    return engine


@flow(name="erechnung-statements")
def statements_flow(config: str = "examples/config.toml", db_url: Optional[str] = None) -> dict[str, Any]:
    from datetime import datetime, timezone

    from erechnung.pipeline.context import Pipeline
    from erechnung.stadtkasse.sollstellung import post

    cfg = load_config(config)
    log = get_run_logger()
    with Pipeline.open(cfg, db_url=db_url) as p:  # the Sollstellung of what was handed over since
        posted = post(p)
    zone = open_storage(location_url(cfg, cfg.stadtkasse.statements), shared=True, s3_options=s3_options(cfg))
    engine = _engine(cfg, db_url)
    try:
        report = import_statements(engine, zone, rules=cfg.payments)
    finally:
        engine.dispose()
    lines = [f"# Kontoauszüge, {berlin_text(datetime.now(timezone.utc))}", "",
             f"- Sollstellung: {posted.posted} Dokument(e), {posted.items} offene Posten neu"]
    lines += [f"- {line}" for line in report.lines()]
    for line in lines[2:]:
        log.info(line[2:])
    create_markdown_artifact(markdown="\n".join(lines), key="erechnung-kontoauszuege",
                             description="Kontoauszüge eingelesen und zugeordnet")
    return {"imported": [name for name, _ in report.imported], "refused": [name for name, _ in report.refused],
            "booked": sum(r.booked for _, r in report.imported),
            "clarification": sum(r.clarification for _, r in report.imported)}


@flow(name="erechnung-dunning")
def dunning_flow(config: str = "examples/config.toml", db_url: Optional[str] = None, dry_run: bool = False,
                 on: Optional[str] = None) -> dict[str, Any]:
    cfg = load_config(config)
    day = date.fromisoformat(on) if on else date.today()
    engine = _engine(cfg, db_url)
    try:
        report = dunning_run(engine, on=day, land=cfg.delivery.land or "default", dry_run=dry_run, by="Mahnlauf",
                             config=cfg)
    finally:
        engine.dispose()
    lines = [f"# Mahnlauf {day:%d.%m.%Y}" + (" (Probelauf)" if dry_run else ""), ""]
    lines += [f"- {line}" for line in report.lines()]
    get_run_logger().info(report.lines()[-1])
    create_markdown_artifact(markdown="\n".join(lines), key="erechnung-mahnlauf", description="Mahnlauf")
    return {"steps": len(report.steps), "recorded": report.recorded, "dry_run": dry_run, "letters": report.letters}
