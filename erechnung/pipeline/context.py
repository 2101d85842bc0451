"""What every pipeline step works with: the configuration, the state database, the archive, the departments'
drop zones, the local work area, and this process's identity as a lease holder (where the configuration's
locations and database are: ``config.locations``).
"""
from __future__ import annotations

import os
import pickle
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from hashlib import sha256
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..archive import Archive, RetentionPolicy
from ..config import Config, Department, database_url, location_url
from ..config.s3 import s3_options
from ..state import make_engine, migrate, transaction
from ..state.leases import holder_is_dead, worker_id as _worker_id  # noqa: F401 (holder_is_dead: re-exported)
from ..storage import Storage, open_storage

#: Folders of a drop zone that belong to the pipeline, not to the department's deliveries.
CLAIMED = "claimed/"
ERROR_REPORTS = "fehlerberichte/"
RESERVED = (CLAIMED, ERROR_REPORTS)


@dataclass(frozen=True)
class Options:
    """How a run works (none of it changes what the documents say).

    ``chunk_size``: documents per task (one transaction, one unit of work for a worker process);
    ``workers``: worker processes rendering and validating (None: one per core; 1: in this process);
    ``lease``: how long a batch or a department stays claimed without a heartbeat;
    ``hybrid_profile``: the ZUGFeRD profile of citizens' invoices (XRECHNUNG: the XRechnung rules validate the
    embedded CII; EN16931: the Factur-X EN 16931 rules); ``today``: the mapping date (default: the day the batch
    was received, so that a resumed batch maps exactly as it did before the crash).
    """

    chunk_size: int = 500
    workers: int | None = None
    lease: timedelta = timedelta(minutes=5)
    hybrid_profile: str = "XRECHNUNG"
    today: date | None = None
    archive_threads: int = 8


class WorkArea:
    """The local scratch folder between the steps: ``models/`` holds each document as built by intake (pickled,
    named by a hash of its idempotency key), ``rendered/`` each rendered document and its validation report until
    they are archived. Writes are atomic (temporary file, then rename); nothing here is the only copy of anything
    that matters: a lost model is rebuilt from the archived batch, a lost rendering is rendered again. Documents
    hold personal data: files are created 0600, the folders 0700."""

    def __init__(self, root: Path, shared: Storage | None = None) -> None:
        self.root = Path(root)
        self.shared = shared  # [cluster] shared_work: the models, for workers on other machines
        self.models = self.root / "models"
        self.rendered = self.root / "rendered"
        for d in (self.root, self.models, self.rendered):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def model_path(self, key: str) -> Path:
        return self.models / f"{sha256(key.encode('utf-8')).hexdigest()[:40]}.pkl"

    def write_model(self, key: str, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if self.shared is not None:  # first where every machine finds it: a local copy alone would be lost with it
            self.shared.put(self._shared_key(key), data)
        self._write(self.model_path(key), data)

    def read_model(self, key: str) -> Any | None:
        try:
            return pickle.loads(self.model_path(key).read_bytes())
        except FileNotFoundError:
            if self.shared is None or not self.fetch_models([key]):
                return None
            return pickle.loads(self.model_path(key).read_bytes())

    def _shared_key(self, key: str) -> str:
        return f"models/{self.model_path(key).name}"

    def fetch_models(self, keys: list[str] | tuple[str, ...]) -> int:
        """Copy the models of ``keys`` missing here from the shared work area (a worker on another machine than
        intake's); returns how many were fetched. A model in neither place is rebuilt from its archived batch
        when the document is rendered (``steps.record_results``)."""
        from ..storage import ObjectNotFoundError

        if self.shared is None:
            return 0
        fetched = 0
        for key in keys:
            path = self.model_path(key)
            if path.exists():
                continue
            try:
                self._write(path, self.shared.get(self._shared_key(key)))
                fetched += 1
            except ObjectNotFoundError:
                continue
        return fetched

    def rendered_paths(self, document_id: int) -> tuple[Path, Path]:
        return self.rendered / f"{document_id}.doc", self.rendered / f"{document_id}.report"

    def write_rendered(self, document_id: int, document: bytes | None, report: bytes) -> None:
        doc_path, report_path = self.rendered_paths(document_id)
        if document is None:
            doc_path.unlink(missing_ok=True)
        else:
            self._write(doc_path, document)
        self._write(report_path, report)

    def read_rendered(self, document_id: int) -> tuple[bytes | None, bytes | None]:
        out: list[bytes | None] = []
        for path in self.rendered_paths(document_id):
            try:
                out.append(path.read_bytes())
            except FileNotFoundError:
                out.append(None)
        return out[0], out[1]

    def forget(self, document_id: int, key: str | None = None) -> None:
        for path in self.rendered_paths(document_id):
            path.unlink(missing_ok=True)
        if key is not None:
            self.model_path(key).unlink(missing_ok=True)
            if self.shared is not None:
                self.shared.delete(self._shared_key(key))

    def rendered_ids(self) -> set[int]:
        ids = set()
        for path in self.rendered.iterdir():
            stem = path.name.split(".", 1)[0]
            if stem.isdigit():
                ids.add(int(stem))
        return ids


def machine_work_dir(config: Config) -> Path:
    """This machine's work area for the configuration: ``ERECHNUNG_WORK_DIR/<Gemeindeschlüssel>`` when the machine
    sets one (a worker serving several municipalities keeps them apart), else ``var/work`` beside the
    configuration."""
    root = os.environ.get("ERECHNUNG_WORK_DIR")
    if root:
        return Path(root) / config.municipality.municipality_key
    return config.path("var/work")


@dataclass
class Pipeline:
    """The pipeline on one configuration (``Pipeline.open(config)``); close it (or use ``with``) at the end."""

    config: Config
    engine: Engine
    archive: Archive
    work: WorkArea
    report_dir: Path
    options: Options = field(default_factory=Options)
    worker: str = field(default_factory=_worker_id)
    register_override: Any = None
    locks: dict[str, int] = field(default_factory=dict)  # department -> lock row id, while held
    _zones: dict[str, Storage] = field(default_factory=dict)
    _owns_engine: bool = True

    @classmethod
    def open(cls, config: Config, *, db_url: str | None = None, engine: Engine | None = None,
             work_dir: str | Path | None = None, report_dir: str | Path | None = None,
             archive_url: str | None = None, options: Options | None = None, register: Any = None) -> "Pipeline":
        """Connect to everything the configuration names (the database is migrated to the newest schema)."""
        owns = engine is None
        engine = engine or make_engine(db_url or database_url(config))
        migrate(engine)
        archive = Archive(open_storage(archive_url or location_url(config, config.archive.location),
                                       s3_options=s3_options(config)),
                          RetentionPolicy.configured(config.archive.retention_years))
        shared = config.cluster.shared_work
        work = WorkArea(Path(work_dir) if work_dir else machine_work_dir(config),
                        shared=open_storage(location_url(config, shared), s3_options=s3_options(config))
                        if shared is not None else None)
        reports = Path(report_dir) if report_dir else config.path("var/reports")
        return cls(config=config, engine=engine, archive=archive, work=work, report_dir=reports,
                   options=options or Options(), register_override=register, _owns_engine=owns)

    def close(self) -> None:
        if "_io" in self.__dict__:
            self.__dict__.pop("_io").shutdown(wait=True)
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ resources

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.engine) as session:
            yield session

    @cached_property
    def _s3_options(self) -> dict[str, str]:
        """How ``s3://`` drop zones reach their server (``[s3]``, or the sandbox's in the include file)."""
        return s3_options(self.config)

    def drop_zone(self, department: Department | str) -> Storage:
        dep = self.config.department(department) if isinstance(department, str) else department
        if dep.id not in self._zones:
            self._zones[dep.id] = open_storage(location_url(self.config, dep.drop_zone), shared=True,
                                               s3_options=self._s3_options)
        return self._zones[dep.id]

    @cached_property
    def _io(self) -> ThreadPoolExecutor:
        """Threads for storage I/O (archive writes): the GIL is released while waiting for disk or network. Their
        malloc arenas would keep growing over a long run without fixed thresholds (``heap``)."""
        from .heap import fix_malloc_thresholds

        fix_malloc_thresholds()
        return ThreadPoolExecutor(max_workers=self.options.archive_threads, thread_name_prefix="erechnung-io")

    @cached_property
    def profile_check(self):
        """Every department's mapping profile, checked once and each on its own (``ProfileCheck``): a department
        whose profile is broken is skipped and reported, before any of its files is claimed."""
        from ..intake.mapping import check_profiles

        return check_profiles(self.config)

    @property
    def profiles(self) -> dict:
        """The mapping profiles of the departments whose profile is sound."""
        return self.profile_check.profiles

    def register(self, department: str):
        """The recipient register: the configured CSV (read once), else what the state database holds."""
        if self.register_override is not None:
            return self.register_override
        if self.config.recipients:
            return self._csv_register
        from ..state.repository import load_register

        with self.transaction() as s:
            return load_register(s, department)

    @cached_property
    def _csv_register(self):
        return self.register_import.register

    @cached_property
    def register_import(self):
        """The configured register CSV as imported: the recipients and the problems of the rows left out
        (reported by the run, issue 11; a row left out silently showed up only as 'unbekannte Kundennummer')."""
        from ..intake import import_recipients_csv

        path = self.config.path(self.config.recipients or "")
        return import_recipients_csv(path.read_bytes(), path.name)

    def register_problems(self) -> tuple:
        """The problems of the configured register CSV (empty without one, or with a register passed in)."""
        if self.register_override is not None or not self.config.recipients:
            return ()
        return self.register_import.errors

    @cached_property
    def notice_config(self):
        from ..notices.config import load_config

        design = self.config.design()  # the municipality's design folder and its court (issue 11)
        return load_config(design.source.parent).for_municipality(dict(design.values))

    def departments(self, selected: str | list[str] | tuple[str, ...] | None = None) -> list[Department]:
        """The departments of a run: all of them, one, or several (KeyError names the known ones)."""
        if selected is None or selected == [] or selected == ():
            return list(self.config.departments.values())
        names = [selected] if isinstance(selected, str) else list(selected)
        return [self.config.department(n) for n in names]


__all__ = ["CLAIMED", "ERROR_REPORTS", "Options", "Pipeline", "RESERVED", "WorkArea", "holder_is_dead"]
