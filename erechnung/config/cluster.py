"""How a run is spread over several machines (issue 16): the ``[cluster]`` section.

    [cluster]
    shared_work = "s3://erechnung-work/musterstadt"   # where documents wait between intake and the workers
    reports = "s3://erechnung-reports/musterstadt"    # where the run reports are kept too (no machine's disk)
    chunk_lease_seconds = 120                         # a chunk whose worker stops renewing is taken over after this
    workers = 2                                       # chunk flow runs a run starts on the work pool
    work_pool = "erechnung"                           # the Prefect work pool the chunk deployment runs on
    deployment = "erechnung-chunks/chunks"            # <flow>/<deployment> of the chunk flow

Without ``shared_work`` the work area is the machine's own folder (one machine: nothing else is needed). With it,
every document built by intake is also stored there, and a worker on another machine fetches it into its own
work area (a cache) before rendering; everything else a worker needs is in the state database and the archive.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from .locations import Location, parse_location
from .problems import Strict


class ClusterSection(Strict):
    shared_work: Location | None = None
    reports: Location | None = None
    chunk_lease_seconds: int = Field(default=120, ge=10, le=3600)
    workers: int = Field(default=2, ge=1, le=256)
    work_pool: str = Field(default="erechnung", min_length=1, max_length=100)
    deployment: str = Field(default="erechnung-chunks/chunks", pattern=r"^[^/]+/[^/]+$")

    _location = field_validator("shared_work", "reports", mode="before")(
        lambda v: parse_location(v) if isinstance(v, str) else v)
