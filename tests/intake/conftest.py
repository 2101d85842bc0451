"""Fixtures for intake: the example configuration of Stadt Musterstadt, its profiles, recipients and batches."""
from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BATCHES = EXAMPLES / "batches"


@pytest.fixture(scope="session")
def config():
    from erechnung.config import load_config

    return load_config(EXAMPLES / "config.toml")


@pytest.fixture(scope="session")
def profiles(config):
    from erechnung.intake import load_profiles

    return load_profiles(config)


@pytest.fixture(scope="session")
def register():
    from erechnung.intake import import_recipients_csv

    imported = import_recipients_csv((EXAMPLES / "recipients.csv").read_bytes(), "recipients.csv")
    assert not imported.errors, imported.errors
    return imported.register


def _sample(department: str) -> tuple[bytes, str]:
    files = sorted(p for p in (BATCHES / department).iterdir() if p.is_file())
    return files[0].read_bytes(), files[0].name


@pytest.fixture(scope="session")
def sample():
    """``sample(department)``: the (first) sample batch of ``department`` as (bytes, file name)."""
    return _sample
