"""Shared fixtures: the installed bundle, the official cases, and one warm Validator per test process.

The suite runs with ``pytest -n 2``; every xdist worker is its own process and compiles the stylesheets once,
in a session-scoped fixture. Results of the official cases are cached per process, so the conformance test and
the report-schema test do not validate the same document twice.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from erechnung import artifacts

OBSERVED = "OBSERVED_KOSIT_EMULATION.tsv"


@dataclass(frozen=True)
class Case:
    """One row of OBSERVED_KOSIT_EMULATION.tsv: what the emulated KoSIT pipeline said about an official case."""

    path: str  # as in the TSV: cases/...
    verdict: str
    scenario: str  # a scenario name, "no scenario" or "not well-formed"
    error_codes: str

    @property
    def file(self) -> Path:
        return artifacts.cases_dir() / self.path.removeprefix("cases/")


def observed_cases() -> list[Case]:
    """Every row of the TSV (read at collection time; a missing file fails collection loudly)."""
    with (artifacts.cases_dir() / OBSERVED).open(encoding="utf-8", newline="") as fh:
        return [Case(r["path"], r["observed_verdict"], r["scenario"], r["error_level_codes"])
                for r in csv.DictReader(fh, delimiter="\t")]


@lru_cache(maxsize=None)
def _validator():
    from validators.engine import Validator

    return Validator.for_bundle(keep_raw=True)


@lru_cache(maxsize=None)
def _result(path: str):
    case_file = artifacts.cases_dir() / path.removeprefix("cases/")
    return _validator().validate(case_file.read_bytes(), path)


@pytest.fixture(scope="session")
def bundle() -> artifacts.Bundle:
    return artifacts.bundle_in_force()


@pytest.fixture(scope="session")
def validator():
    """The newest bundle's Validator (keeps SVRL output for the KoSIT oracle), shared by the whole process."""
    return _validator()


@pytest.fixture(scope="session")
def case_result():
    """``case_result(path)``: the cached ValidationResult of an official case (path as in the TSV)."""
    return _result
