"""The deployments of ``prefect.yaml`` served from code: ``python -m flows.deployments`` registers them with the
server in ``PREFECT_API_URL`` and runs their scheduled and manual runs in this process (``flow.serve``), so no
work pool and no worker are needed; stop it with Ctrl+C (twice). ``prefect.yaml`` is the same set for a worker.
"""
from __future__ import annotations

from typing import Optional

TIMEZONE = "Europe/Berlin"


def deployments(config: str = "examples/config.toml", department_schedules: Optional[dict[str, str]] = None):
    """The RunnerDeployments: nightly for all departments, monthly for the Steueramt (or ``department_schedules``:
    department -> cron), a manual one, the two catch-up flows, and delivery (every 10 minutes on working days)
    and tracking (every 30 minutes)."""
    from prefect.client.schemas.schedules import CronSchedule

    from .delivery import deliver_flow, track_flow
    from .pipeline import archive_flow, hand_over_flow, run_flow
    from .stadtkasse import dunning_flow, statements_flow

    def cron(expr: str):
        return [CronSchedule(cron=expr, timezone=TIMEZONE)]

    out = [run_flow.to_deployment("nachts", schedules=cron("30 2 * * 1-5"), tags=["erechnung", "alle"],
                                  parameters={"config": config, "department": None})]
    for dep, expr in (department_schedules or {"steueramt": "0 3 1 * *"}).items():
        out.append(run_flow.to_deployment(f"{dep}-geplant", schedules=cron(expr), tags=["erechnung", dep],
                                          parameters={"config": config, "department": dep}))
    out += [run_flow.to_deployment("manuell", tags=["erechnung"], parameters={"config": config}),
            archive_flow.to_deployment("archiv-nachholen", tags=["erechnung"], parameters={"config": config}),
            hand_over_flow.to_deployment("uebergabe-nachholen", tags=["erechnung"], parameters={"config": config}),
            deliver_flow.to_deployment("zustellen", schedules=cron("*/10 6-20 * * 1-5"),
                                       tags=["erechnung", "zustellung"], parameters={"config": config}),
            track_flow.to_deployment("verfolgen", schedules=cron("*/30 * * * *"), tags=["erechnung", "zustellung"],
                                     parameters={"config": config}),
            statements_flow.to_deployment("kontoauszuege-taeglich", schedules=cron("0 7 * * 1-5"),
                                          tags=["erechnung", "stadtkasse"], parameters={"config": config}),
            dunning_flow.to_deployment("mahnlauf-woechentlich", schedules=cron("0 6 * * 1"),
                                       tags=["erechnung", "stadtkasse"], parameters={"config": config})]
    return out


if __name__ == "__main__":
    import sys

    from . import settings

    settings.apply()  # before Prefect is imported
    from prefect import serve

    serve(*deployments(sys.argv[1] if len(sys.argv) > 1 else "examples/config.toml"))
