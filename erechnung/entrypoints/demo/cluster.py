"""``make demo-cluster``: two municipalities' runs on a Prefect work pool with two workers ("machines"), one of
them killed in the middle (issue 16).

What it starts, all on loopback and stopped at the end: a Prefect server on PostgreSQL (a database of its own on
``ERECHNUNG_CLUSTER_POSTGRES``, default 127.0.0.1:5432), an S3 server (moto) holding the drop zones, the shared
work area and the archives, and two ``prefect worker start --pool erechnung --type process`` with separate work
folders, Prefect homes and lease host names (``ERECHNUNG_HOST``). Each municipality (Stadt Musterstadt, Gemeinde
Beispielheim) has its own state database, bucket and configuration; the coordinators run here and submit the
chunk flow runs to the pool. While the first chunks are worked on, worker "rechner-a" is killed (SIGKILL, with its
flow runs: a machine gone); "rechner-b" takes over its chunk after the lease. At the end every municipality's state
is counted from its tables (:func:`erechnung.pipeline.distributed.ledger`) and the demo ends with
``cluster demo: tenants 2, documents N, duplicates 0, lost 0, workers used 2`` (exit 0), else exit 1.

After the run the killed machine comes back, and each municipality's documents are delivered by two delivery flow
runs at once on the pool (into each municipality's own sandboxes: SMTP, BundID, ELSTER, Peppol): a delivery sent
twice counts as a duplicate, a document with neither a delivery nor a recorded reason why it cannot be delivered
counts as lost.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .pipeline import config_text

PROJECT = Path(__file__).resolve().parents[3]
EXAMPLES = PROJECT / "examples"
OUT = Path("out/cluster")
ADMIN_URL = os.environ.get("ERECHNUNG_CLUSTER_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TENANTS = {"musterstadt": EXAMPLES, "beispielheim": EXAMPLES / "beispielheim"}
MACHINES = ("rechner-a", "rechner-b")
POOL = "erechnung"
LEASE_SECONDS = 15
REGION = "eu-central-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _say(text_: str) -> None:
    print(text_, flush=True)


@dataclass
class Cluster:
    root: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    s3: object = None
    endpoint: str = ""
    api: str = ""
    databases: list[str] = field(default_factory=list)
    sandboxes: list = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    # -------------------------------------------------------------------------------------------- services
    def database(self, name: str) -> str:
        """A new database ``<name>_<tag>``: the tag keeps two demos (or a demo and its test) on one server apart."""
        name = f"{name}_{self.tag}"
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.databases.append(name)
        return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def start_s3(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.s3.start()
        host, port = self.s3.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        secret = self.root / "secrets" / "s3-secret"
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("cluster-demo-secret", encoding="utf-8")
        secret.chmod(0o600)

    def bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="cluster-demo",
                     aws_secret_access_key="cluster-demo-secret").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})

    def keys(self, bucket: str, prefix: str) -> list[str]:
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="cluster-demo",
                              aws_secret_access_key="cluster-demo-secret")
        return [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ERECHNUNG_CRASH"))}
        base.update({"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                     "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false", "PYTHONPATH": str(PROJECT)})
        if self.api:
            base["PREFECT_API_URL"] = self.api
        base.update(extra)
        return base

    def start_prefect_server(self, db_url: str) -> None:
        port = _free_port()
        home = self.root / "prefect-server"
        home.mkdir(parents=True, exist_ok=True)
        async_url = make_url(db_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        env = self.env(PREFECT_HOME=str(home), PREFECT_API_DATABASE_CONNECTION_URL=async_url,
                       PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port))
        log = open(self.root / "prefect-server.log", "wb")
        self.procs["server"] = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root)
        self.api = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.procs["server"].poll() is not None:
                raise RuntimeError(f"Prefect-Server beendet, siehe {self.root / 'prefect-server.log'}")
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("Prefect-Server nicht bereit nach 120 s")

    def prefect(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], env=self.env(
            PREFECT_HOME=str(self.root / "prefect-client")), check=True, capture_output=True, cwd=PROJECT)

    def start_worker(self, machine: str, crash: str | None = None) -> None:
        home = self.root / machine
        (home / "prefect").mkdir(parents=True, exist_ok=True)
        env = self.env(**({"ERECHNUNG_CRASH_AT": crash} if crash else {}),PREFECT_HOME=str(home / "prefect"), ERECHNUNG_WORK_DIR=str(home / "work"),
                       ERECHNUNG_HOST=machine, TMPDIR=str(home / "tmp"), PREFECT_WORKER_QUERY_SECONDS="1")
        (home / "tmp").mkdir(exist_ok=True)
        log = open(home / "worker.log", "wb")
        self.procs[machine] = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process", "--name",
             machine, "--limit", "2"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=PROJECT)

    def kill(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its flow runs: the machine is gone
            proc.wait()

    def stop(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=15)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    self.kill(name)
        for site in self.sandboxes:
            site.stop()
        if self.s3 is not None:
            self.s3.stop()
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in self.databases:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tenant_config(cluster: Cluster, tenant: str, examples: Path, db_url: str) -> Path:
    """The municipality's configuration: its own schema of the state database, its bucket with drop zones, shared
    work area and archive."""
    from ...config import load_config

    root = (cluster.root / tenant).resolve()
    root.mkdir(parents=True, exist_ok=True)
    bucket = f"erechnung-{tenant}"
    cluster.bucket(bucket)
    departments = [d.name for d in sorted((examples / "batches").iterdir()) if d.is_dir()]
    zones = {d: f"s3://{bucket}/ablagen/{d}" for d in departments}
    body = config_text(root, examples=examples, s3_zones=zones, database_url=db_url,
                       archive=f"s3://{bucket}/archiv")
    body = re.sub(r"(?m)^(\[database\]\n(?:.*\n)*?url = .*\n)", rf'\1schema = "{tenant}"\n', body, count=1)
    if not re.search(r"(?m)^include = ", body):  # the channels: its own sandboxes (Beispielheim's file has none)
        include = (root / "sandbox" / "delivery.toml").as_posix()
        body = re.sub(r"(?m)^\[delivery\]\n", f'[delivery]\ninclude = "{include}"\n', body, count=1)
    body += (f'\n[s3]\nendpoint_url = "{cluster.endpoint}"\nregion = "{REGION}"\naccess_key_id = "cluster-demo"\n'
             f'secret_access_key_file = "{(cluster.root / "secrets" / "s3-secret").resolve().as_posix()}"\n'
             f'\n[cluster]\nshared_work = "s3://{bucket}/arbeit"\nreports = "s3://{bucket}/berichte"\n'
             'workers = 2\n'
             f'chunk_lease_seconds = {LEASE_SECONDS}\nwork_pool = "{POOL}"\ndeployment = "erechnung-chunks/chunks"\n')
    path = root / "config.toml"
    path.write_text(body, encoding="utf-8")
    _start_sandboxes(cluster, root, examples)
    from ..cli.samples import drop_samples

    dropped = drop_samples(load_config(path), examples=examples)
    if dropped.failed:
        raise RuntimeError(f"{tenant}: Beispieldateien nicht abgelegt: {dropped.failed}")
    return path


def _start_sandboxes(cluster: Cluster, root: Path, examples: Path) -> None:
    """The municipality's delivery sandboxes (SMTP, BundID, ELSTER, Peppol) on loopback, in this process, with its
    register: the configuration includes their ``delivery.toml``."""
    from mailbox_connectors.sandboxes.site import SandboxSite

    from ...intake.recipients import import_recipients_csv
    from .delivery import NOT_IN_PEPPOL

    register = import_recipients_csv((examples / "recipients.csv").read_bytes(), "recipients.csv").register
    site = SandboxSite(root / "sandbox").start()
    site.register(register, not_in_peppol=NOT_IN_PEPPOL)
    cluster.sandboxes.append(site)


def _killer(cluster: Cluster, urls: list[str], machine: str, stop: threading.Event, killed: list[str]) -> None:
    """Kill ``machine`` (the worker and its flow runs) as soon as it holds a chunk, in the middle of its work. Its
    flow runs also carry ``ERECHNUNG_CRASH_AT``: should this thread come too late, the flow run dies by itself
    after recording its first chunk's verdicts, before archiving them; the worker is killed all the same."""
    engines = [create_engine(u) for u in urls]
    try:
        while not stop.is_set():
            for e in engines:
                with e.connect() as c:
                    held = c.execute(text("SELECT count(*) FROM work_chunks WHERE state = 'running' "
                                          "AND holder LIKE :m"), {"m": f"{machine}:%"}).scalar_one()
                if held:
                    cluster.kill(machine)
                    killed.append(machine)
                    return
            stop.wait(0.3)
    except Exception:  # noqa: BLE001 - tables not there yet: the run has not begun
        if not stop.is_set():
            time.sleep(0.3)
            return _killer(cluster, urls, machine, stop, killed)
    finally:
        for e in engines:
            e.dispose()


def main(root: Path = OUT, *, kill: bool = True) -> int:
    from ...config import load_config
    from ...pipeline import Pipeline
    from ...pipeline.distributed import ledger

    root = root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cluster = Cluster(root)
    try:
        t0 = time.monotonic()
        cluster.start_s3()
        state_db = cluster.database("erechnung_cluster_state")  # one database, a schema per municipality
        configs = {t: tenant_config(cluster, t, ex, state_db) for t, ex in TENANTS.items()}
        installation = root / "installation.toml"
        installation.write_text("[installation]\nname = \"Kommunales Rechenzentrum (Demo)\"\n" + "".join(
            f'\n[tenants.{t}]\nname = "{load_config(c).municipality.name}"\nconfig = "{c.relative_to(root)}"\n'
            for t, c in configs.items()), encoding="utf-8")
        urls = {t: f"{state_db}?options=-csearch_path%3D{t}" for t in TENANTS}
        _say(f"S3 auf {cluster.endpoint}; Mandanten: {', '.join(TENANTS)}")
        cluster.start_prefect_server(cluster.database("erechnung_cluster_prefect"))
        _say(f"Prefect-Server auf PostgreSQL: {cluster.api}")
        cluster.prefect("work-pool", "create", POOL, "--type", "process")
        subprocess.run([sys.executable, "-m", "flows.cluster", "deploy", "--pool", POOL], check=True, cwd=PROJECT,
                       env=cluster.env(PREFECT_HOME=str(root / "prefect-client")), capture_output=True)
        for m in MACHINES:  # the first machine's flow runs die mid-chunk by themselves, if not killed before
            cluster.start_worker(m, crash="render.committed:1" if kill and m == MACHINES[0] else None)
        _say(f"Worker gestartet: {', '.join(MACHINES)} (Pool {POOL})")
        stop, killed = threading.Event(), []
        killer = threading.Thread(target=_killer, args=(cluster, list(urls.values()), MACHINES[0], stop, killed),
                                  daemon=True)
        if kill:
            killer.start()
        coordinators = {t: subprocess.Popen(
            [sys.executable, "-m", "flows.cluster", "run", "--tenant", t, "--installation", str(installation),
             "--chunk-size", "3"], cwd=PROJECT, env=cluster.env(PREFECT_HOME=str(root / "prefect-client")),
            stdout=open(root / f"lauf-{t}.log", "wb"), stderr=subprocess.STDOUT) for t in TENANTS}
        failed = [t for t, proc in coordinators.items() if proc.wait(timeout=1200) != 0]
        stop.set()
        if killed:
            _say(f"Worker {killed[0]} mitten im Abschnitt beendet (SIGKILL); die anderen übernehmen nach "
                 f"{LEASE_SECONDS} s Frist")
        cluster.start_worker(MACHINES[0])  # the machine is back for delivery
        _say(f"{MACHINES[0]} wieder gestartet; Zustellung: je Kommune zwei Flow-Läufe zugleich auf dem Pool")
        delivering = {t: subprocess.Popen(
            [sys.executable, "-m", "flows.cluster", "deliver", "--config", str(configs[t]), "--tenant", t,
             "--runs", "2"], cwd=PROJECT, env=cluster.env(PREFECT_HOME=str(root / "prefect-client")),
            stdout=open(root / f"zustellung-{t}.log", "wb"), stderr=subprocess.STDOUT) for t in TENANTS}
        failed += [f"{t} (Zustellung)" for t, proc in delivering.items() if proc.wait(timeout=900) != 0]
        documents = duplicates = lost = taken_over = sent = 0
        hosts: set[str] = set()
        for t, path in configs.items():
            with Pipeline.open(load_config(path), work_dir=root / "pruefung" / t) as p:
                led = ledger(p, delivered=True)
            sent += led.deliveries
            _say(f"  {t}: Belege {led.documents}, zugestellt {led.deliveries}, doppelt {led.duplicates}, "
                 f"verloren {led.lost}, "
                 f"Rechner {', '.join(sorted(led.workers))}, übernommene Abschnitte {led.taken_over}")
            taken_over += led.taken_over
            reports = cluster.keys(f"erechnung-{t}", "berichte/")
            _say(f"    Laufbericht in S3: {', '.join(reports) or 'fehlt'}")
            lost += not reports
            for line in led.dead_letters:
                _say(f"    nicht zustellbar (mit Grund festgehalten): {line}")
            documents, duplicates, lost = documents + led.documents, duplicates + led.duplicates, lost + led.lost
            hosts |= led.workers
        for t in failed:
            _say(f"  Lauf {t} endete mit Fehler, siehe {root}/lauf-*.log und zustellung-*.log")
        _say(f"({time.monotonic() - t0:.0f} s)")
        _say(f"cluster demo: tenants {len(TENANTS)}, documents {documents}, duplicates {duplicates}, lost {lost}, "
             f"workers used {len(hosts)}")
        if kill and not taken_over:
            _say("  kein Abschnitt wurde übernommen: der beendete Worker hielt keinen")
        ok = not failed and not duplicates and not lost and len(hosts) == len(MACHINES) and documents and sent
        return 0 if ok and (taken_over or not kill) else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main(kill="--no-kill" not in sys.argv))
