"""``erechnung samples``: the sample deliveries of ``examples/batches/`` into a configuration's drop zones.

The README's Prefect path needs files to process: this puts each department's sample files
(:func:`sample_files`, the same the demo drops: ``make demo`` takes them from here) into the drop zone the
configuration names for it, a folder or ``s3://`` (through the storage port, with the configuration's ``[s3]``).
A bucket missing on the S3 stand-in of ``erechnung sandbox`` (``[s3] sandbox = true``) is created first; on a
real S3 server a missing bucket is that department's error. One department's unreachable drop zone is reported
(German, with what to do) and the others are filled all the same.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ...config import Config, location_url
from ...config.s3 import s3_options, s3_section
from ...storage import StorageError, open_storage

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 4


def sample_files(examples: Path = EXAMPLES) -> Iterator[tuple[str, Path]]:
    """The sample deliveries: ``(department id, file)`` for every file of ``examples/batches/<department>/``."""
    for folder in sorted((examples / "batches").iterdir()):
        if folder.is_dir():
            for f in sorted(folder.iterdir()):
                if f.is_file():
                    yield folder.name, f


@dataclass
class Dropped:
    """What :func:`drop_samples` did: files per department, and the departments it could not reach (why)."""

    files: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    not_configured: list[str] = field(default_factory=list)  # sample folders of no department of the configuration


def _create_bucket_on_sandbox(zone, region: str | None) -> None:
    """The bucket of an ``s3://`` zone on the sandbox's stand-in, created when missing."""
    from botocore.exceptions import ClientError

    try:
        zone.client.head_bucket(Bucket=zone.bucket)
    except ClientError:
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region and region != "us-east-1" \
            else {}
        zone.client.create_bucket(Bucket=zone.bucket, **where)


def drop_samples(config: Config, departments: list[str] | None = None, *, examples: Path = EXAMPLES) -> Dropped:
    """Put the sample files into the drop zones of ``config`` (all its departments, or ``departments``)."""
    out = Dropped()
    options = s3_options(config)
    section, _ = s3_section(config)
    for dep_id, f in sample_files(examples):
        if dep_id not in config.departments:
            if dep_id not in out.not_configured:
                out.not_configured.append(dep_id)
            continue
        if (departments and dep_id not in departments) or dep_id in out.failed:
            continue
        dep = config.department(dep_id)
        try:
            zone = open_storage(location_url(config, dep.drop_zone), shared=True, s3_options=options)
            if dep.drop_zone.kind == "s3" and section is not None and section.sandbox:
                _create_bucket_on_sandbox(zone, section.region)
            zone.put(f.name, f.read_bytes())
        except Exception as exc:  # noqa: BLE001 - one zone's trouble is that department's, the others go on
            problem = _unreachable(dep.drop_zone, exc)
            out.failed[dep_id] = problem
            continue
        out.files.setdefault(dep_id, []).append(f.name)
    return out


def _unreachable(location, exc: Exception) -> str:
    """A German line for an exception while writing to a drop zone."""
    if isinstance(exc, StorageError):
        return str(exc)
    if location.kind == "s3":
        from ...storage.s3 import unreachable

        problem = unreachable(str(location), exc)
        if problem is not None:
            return str(problem)
    return f"Ablage {location} nicht beschreibbar: {type(exc).__name__}: {exc}"


def run_samples(config_path: Path, departments: Sequence[str] = (), out=None) -> int:
    from erechnung.config import ConfigError, load_config

    out = out or sys.stdout
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = [d for d in departments if d not in config.departments]
    if unknown:
        print(f"Fehler: keine Abteilung {', '.join(unknown)} in {config_path}; bekannt: "
              f"{', '.join(config.departments)}", file=sys.stderr)
        return EXIT_USAGE
    dropped = drop_samples(config, list(departments) or None)
    for dep_id, names in dropped.files.items():
        print(f"{config.department(dep_id).name}: {len(names)} Datei(en) abgelegt in "
              f"{config.department(dep_id).drop_zone}: {', '.join(names)}", file=out)
    for dep_id, why in dropped.failed.items():
        print(f"{config.department(dep_id).name}: nichts abgelegt – {why}", file=sys.stderr)
    return EXIT_FAILED if dropped.failed else EXIT_OK
