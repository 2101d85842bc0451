"""The pipeline over several machines (issue 16): Prefect flows over :mod:`erechnung.pipeline.distributed`.

``cluster_run_flow``  the coordinator of one municipality's run (one tenant): intake (a task per department),
                      then the numbered documents recorded as chunks in the state database and ``[cluster]
                      workers`` flow runs of the chunk deployment submitted to the work pool; it holds the
                      departments while the workers drain the chunks, starts another worker when none is left,
                      and publishes the run's summary (with which worker did how much) as artifacts.
``chunks_flow``       a worker's share: on whichever machine's worker picks the flow run up, claim chunks of
                      ``run_id`` until none is left (``drain``). Its parameters are ids and a path; everything else
                      comes from the configuration, the state database, the shared work area and the archive.

Flow runs carry the municipality in their name and a ``tenant:<id>`` tag, so the Prefect UI shows which tenant a
run is for. The deployments for a work pool: ``python -m flows.cluster deploy --pool erechnung``; each machine
runs ``prefect worker start --pool erechnung --type process`` (see README, "Mehrere Rechner").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

if __name__ == "__main__":
    from flows.settings import apply

    apply()

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from erechnung.config import load_config
from erechnung.pipeline import Options, Pipeline, RenderPool
from erechnung.pipeline.distributed import coordinate, drain

from .pipeline import PrefectTasks, _ended, publish

PROJECT = Path(__file__).resolve().parents[1]


def _tenant_of(config: Optional[str], tenant: Optional[str]) -> str:
    """The tenant's id for names and tags: given, else the configuration's folder name."""
    return tenant or Path(config or ".").resolve().parent.name


def resolve(config: Optional[str], tenant: Optional[str], installation: Optional[str]):
    """(configuration path, work folder or None, report folder or None) of a flow's parameters: ``config`` as
    given, else the tenant's in the installation file (``installation``, else ``ERECHNUNG_INSTALLATION``)."""
    if config:
        return config, None, None
    if not tenant:
        raise ValueError("config or tenant is required")
    from erechnung.config.tenants import load_installation

    t = load_installation(installation).tenant(tenant)
    return str(t.config_path), t.work_dir, t.report_dir


def _run_name() -> str:
    params = flow_run.parameters
    return f"{_tenant_of(params.get('config'), params.get('tenant'))}-lauf"


def _chunks_name() -> str:
    params = flow_run.parameters
    return f"{_tenant_of(params.get('config'), params.get('tenant'))}-abschnitte-{str(params['run_id'])[:8]}"


@flow(name="erechnung-chunks", flow_run_name=_chunks_name, log_prints=False)
def chunks_flow(run_id: str, config: Optional[str] = None, tenant: Optional[str] = None,
                installation: Optional[str] = None, db_url: Optional[str] = None,
                workers: Optional[int] = 1) -> dict[str, Any]:
    """Work on the chunks of ``run_id`` until every one is done (on this machine, ``workers`` processes; the work
    folder: ``ERECHNUNG_WORK_DIR`` of the machine, else the tenant's)."""
    import os

    log = get_run_logger()
    config, work_dir, _reports = resolve(config, tenant, installation)
    with Pipeline.open(load_config(config), db_url=db_url, options=Options(workers=workers),
                       work_dir=None if os.environ.get("ERECHNUNG_WORK_DIR") else work_dir) as p:
        with RenderPool(workers, p.work.root, p.options.hybrid_profile, design=p.config.design()) as pool:
            report = drain(p, run_id, pool=pool)
    if report.taken_over:
        log.warning("Abschnitte %s übernommen: ihr Worker hatte seine Frist verstreichen lassen", report.taken_over)
    log.info("%s: %d Abschnitte, %d Belege, %.1f s CPU", report.holder, report.chunks, report.documents, report.cpu)
    return {"holder": report.holder, "chunks": report.chunks, "documents": report.documents,
            "taken_over": report.taken_over, "cpu": round(report.cpu, 3), "seconds": round(report.seconds, 3)}


class _Workers:
    """Flow runs of the chunk deployment, submitted to the work pool, and whether they still run. Their states are
    read at most every ``ALIVE_EVERY`` seconds (the coordinator polls the chunk table more often; a Prefect client
    per poll cost it a fifth of a core, ``make bench-cluster``)."""

    ALIVE_EVERY = 15.0

    def __init__(self, deployment: str, parameters: dict[str, Any], tags: list[str]) -> None:
        self.deployment, self.parameters, self.tags = deployment, parameters, tags
        self.ids: list = []
        self._alive: tuple[float, int] | None = None  # (when read, how many)

    def start(self, run_id: str, n: int) -> int:
        from prefect.deployments import run_deployment

        started = 0
        for _ in range(n):
            try:
                fr = run_deployment(name=self.deployment, parameters={**self.parameters, "run_id": run_id},
                                    timeout=0, as_subflow=False, tags=self.tags)
            except Exception as exc:  # noqa: BLE001 - no deployment, no server: the coordinator works alone
                get_run_logger().warning("Worker-Lauf nicht gestartet (%s): %s", self.deployment, exc)
                break
            self.ids.append(fr.id)
            started += 1
        self._alive = None
        return started

    def alive(self) -> int:
        import time

        from prefect.client.orchestration import get_client

        if self._alive is not None and time.monotonic() - self._alive[0] < self.ALIVE_EVERY:
            return self._alive[1]
        with get_client(sync_client=True) as client:
            n = sum(1 for i in self.ids if not client.read_flow_run(i).state.is_final())
        self._alive = (time.monotonic(), n)
        return n


@flow(name="erechnung-cluster-run", flow_run_name=_run_name, log_prints=False)
def cluster_run_flow(config: Optional[str] = None, tenant: Optional[str] = None,
                     installation: Optional[str] = None, department: Optional[str] = None,
                     chunk_size: int = 500, db_url: Optional[str] = None, report_dir: Optional[str] = None,
                     worker_processes: int = 1) -> dict[str, Any]:
    """One municipality's run, its chunks drained by workers of the work pool (see the module docstring)."""
    log = get_run_logger()
    name = _tenant_of(config, tenant)
    given = config
    config, work_dir, reports = resolve(config, tenant, installation)
    with Pipeline.open(load_config(config), db_url=db_url, report_dir=report_dir or reports, work_dir=work_dir,
                       options=Options(workers=1, chunk_size=chunk_size)) as p:
        cluster = p.config.cluster
        where = {"config": str(Path(config).resolve())} if given else {"tenant": name, "installation": installation}
        workers = _Workers(cluster.deployment, {**where, "tenant": name, "db_url": db_url,
                                                "workers": worker_processes},
                           tags=["erechnung", f"tenant:{name}"])
        tasks = PrefectTasks()
        summary = coordinate(p, department, start_workers=workers.start, workers_alive=workers.alive,
                             intake=lambda pp, deps, run_id: tasks.intake(pp, deps, run_id, None))
        cfg = p.config
    publish(summary, cfg)
    done = summary.timings.get("cluster", {})
    log.info("Lauf %s (%s): %s; Worker: %s", summary.run_id, name, summary.totals.row(),
             {w: v["documents"] for w, v in done.get("workers", {}).items()})
    return _ended({"tenant": name, "run_id": summary.run_id, "table": summary.table(),
                   "seconds": round(summary.seconds, 2), "workers": done.get("workers", {}),
                   "taken_over": done.get("taken_over", 0), "report_html": str(summary.report_html),
                   "problems": summary.problems(), "failed_departments": summary.failed_departments()})


DEPLOYMENTS = (("flows/cluster.py:chunks_flow", "chunks"), ("flows/cluster.py:cluster_run_flow", "lauf"),
               ("flows/delivery.py:deliver_flow", "zustellen"), ("flows/delivery.py:track_flow", "verfolgen"))


def deploy(pool: str = "erechnung") -> list:
    """The chunk flow, the coordinator, delivery and tracking as deployments on ``pool`` (a process pool: the code
    is this project's folder on every machine, the same installed version). Delivery batches need no chunk table:
    deliveries are claimed one by one under a lease (``erechnung.state.deliveries.send``), so delivery flow runs on
    several machines at once send each delivery once. Returns the deployment ids."""
    from prefect import Flow

    ids = []
    for entry, name in DEPLOYMENTS:
        ids.append(Flow.from_source(source=str(PROJECT), entrypoint=entry).deploy(
            name=name, work_pool_name=pool, tags=["erechnung"], print_next_steps=False))
    return ids


def run_on_pool(deployment: str, parameters: dict[str, Any], runs: int, tags: list[str]) -> list[str]:
    """``runs`` flow runs of ``deployment`` at once on the work pool; waits for them and returns their end states."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    ids = [run_deployment(name=deployment, parameters=parameters, timeout=0, as_subflow=False, tags=tags).id
           for _ in range(runs)]
    with get_client(sync_client=True) as client:
        while True:
            states = [client.read_flow_run(i).state for i in ids]
            if all(s.is_final() for s in states):
                return [s.name for s in states]
            time.sleep(1)


if __name__ == "__main__":  # python -m flows.cluster deploy [--pool P]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m flows.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="register the chunk and run deployments on a work pool")
    d.add_argument("--pool", default="erechnung")
    r = sub.add_parser("run", help="one municipality's run, its chunks on the work pool")
    r.add_argument("--config")
    r.add_argument("--tenant")
    r.add_argument("--installation")
    r.add_argument("--department")
    r.add_argument("--chunk-size", type=int, default=500)
    dl = sub.add_parser("deliver", help="delivery flow runs on the work pool at once (each delivery sent once)")
    dl.add_argument("--config", required=True)
    dl.add_argument("--tenant")
    dl.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if args.command == "deploy":
        print(deploy(args.pool))
    elif args.command == "deliver":
        states = run_on_pool("erechnung-deliver/zustellen", {"config": str(Path(args.config).resolve())}, args.runs,
                             ["erechnung", f"tenant:{_tenant_of(args.config, args.tenant)}"])
        print(states)
        raise SystemExit(0 if all(s == "Completed" for s in states) else 1)
    else:
        print(cluster_run_flow(args.config, tenant=args.tenant, installation=args.installation,
                               department=args.department, chunk_size=args.chunk_size))
