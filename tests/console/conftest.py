"""Console fixtures: one municipality made by the demo (``make demo``'s pipeline and deliveries, in a temporary
folder, about ten seconds), its console as an ASGI app, and clients signed in per role (the demo accounts of
``examples/config.toml``: password ``<name>-demo-2026``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console


@dataclass
class Site:
    root: Path
    config: Path
    db_url: str
    app: object

    def engine(self):
        from erechnung.state import make_engine

        return make_engine(self.db_url)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Site:
    import io

    from erechnung.entrypoints.console import create_app
    from erechnung.entrypoints.demo.pipeline import main

    root = tmp_path_factory.mktemp("console") / "pipeline"
    out = io.StringIO()
    assert main(root, console=Console(file=out, width=160)) == 0, out.getvalue()
    config = root / "config.toml"
    return Site(root, config, f"sqlite:///{root / 'erechnung.sqlite3'}", create_app(config))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def sign_in(client, name: str, password: str | None = None):
    page = client.get("/anmelden")
    return client.post("/anmelden", data={"csrf": csrf_of(page.text), "name": name,
                                          "password": password or f"{name}-demo-2026", "next": "/"},
                       follow_redirects=False)


@pytest.fixture
def client_for(site):
    from starlette.testclient import TestClient

    def make(name: str | None = None):
        client = TestClient(site.app)
        if name is not None:
            r = sign_in(client, name)
            assert r.status_code == 303, r.text
        return client

    return make
