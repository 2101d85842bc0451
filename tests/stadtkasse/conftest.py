"""Stadtkasse fixtures: the pipeline's (``db_url`` on SQLite and PostgreSQL, ``make_site``: Stadt Musterstadt on
disk), and ``site_with_documents``: a site whose sample deliveries of a few departments went through one run."""
from __future__ import annotations

from datetime import date

import pytest

from tests.pipeline.conftest import db_url, make_site, pg_database, s3, s3_endpoint  # noqa: F401  (fixtures)

TODAY = date(2026, 11, 20)
DEPARTMENTS = ("standesamt", "gewerbesteuer", "abfallwirtschaft", "stadtbibliothek")


@pytest.fixture
def site_with_documents(make_site, db_url, tmp_path):
    site = make_site(tmp_path / "site", db_url, drop=False)
    for department in DEPARTMENTS:
        site.drop(department)
    site.run(today=TODAY)
    return site
