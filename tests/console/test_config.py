"""Issue 14, the ``[console]`` section: password hashes only (scrypt, made by ``erechnung console
hash-password``), a clerk's departments must exist, the trusted header is off by default and counts only from
the configured proxies; the session cookie is Secure when the base URL is https."""
from __future__ import annotations

import pytest

from erechnung.config import ConfigError, load_config

pytestmark = pytest.mark.xdist_group("console")


def _with_console(site, tmp_path, section: str):
    text = site.config.read_text(encoding="utf-8").split("\n[console]")[0]
    path = tmp_path / "config.toml"
    path.write_text(text + "\n" + section, encoding="utf-8")
    return path


def test_hash_password_makes_a_hash_that_verifies():
    from erechnung.entrypoints.console.auth import hash_password, verify_password

    stored = hash_password("ein langes Passwort")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("ein langes Passwort", stored) and not verify_password("ein langes passwort", stored)
    assert not verify_password("x" * 5000, stored) and not verify_password("", None)


def test_the_hash_password_command(tmp_path):
    from typer.testing import CliRunner

    from erechnung.entrypoints.cli import app
    from erechnung.entrypoints.console.auth import verify_password

    r = CliRunner().invoke(app, ["console", "hash-password"], input="geheim-geheim-42\ngeheim-geheim-42\n")
    assert r.exit_code == 0, r.output
    assert verify_password("geheim-geheim-42", r.output.strip().splitlines()[-1])
    r = CliRunner().invoke(app, ["console", "hash-password"], input="kurz\nkurz\n")
    assert r.exit_code == 2


@pytest.mark.parametrize("section, problem", [
    ('[console]\n[[console.users]]\nname = "a"\npassword_hash = "geheim"\nrole = "admin"\n', "scrypt"),
    ('[console]\n[[console.users]]\nname = "a"\nrole = "department"\n', "departments"),
    ('[console]\n[[console.users]]\nname = "a"\nrole = "department"\ndepartments = ["bauamt"]\n', "bauamt"),
    ('[console]\n[[console.users]]\nname = "a"\nrole = "chef"\n', "role"),
    ('[console]\ntrusted_header = "X-Remote-User"\n', "trusted_proxies"),
])
def test_console_mistakes_are_configuration_errors(site, tmp_path, section, problem):
    with pytest.raises(ConfigError) as caught:
        load_config(_with_console(site, tmp_path, section))
    assert problem in str(caught.value)


def test_trusted_header_only_from_the_proxy(site, tmp_path):
    from starlette.testclient import TestClient

    from erechnung.entrypoints.console import create_app

    path = _with_console(site, tmp_path, '[console]\nbase_url = "https://erechnung.musterstadt.example"\n'
                         'trusted_header = "X-Remote-User"\ntrusted_proxies = ["127.0.0.1"]\n'
                         '[[console.users]]\nname = "pruefer"\nrole = "auditor"\n')
    app = create_app(path)
    proxy = TestClient(app, client=("127.0.0.1", 40000), base_url="https://testserver")
    assert proxy.get("/dokumente", headers={"X-Remote-User": "pruefer"}).status_code == 200
    assert proxy.get("/dokumente", headers={"X-Remote-User": "unbekannt"}).status_code == 403
    elsewhere = TestClient(app, client=("10.1.2.3", 40000), base_url="https://testserver")
    r = elsewhere.get("/dokumente", headers={"X-Remote-User": "pruefer"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/anmelden")
    # https: the session cookie is Secure
    assert "secure" in elsewhere.get("/anmelden").headers["set-cookie"].lower()
    # a user without a password cannot sign in with the form
    login = elsewhere.get("/anmelden").text
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', login)[1]
    r = elsewhere.post("/anmelden", data={"csrf": token, "name": "pruefer", "password": ""})
    assert r.status_code == 401


def test_the_demo_configuration_has_one_account_per_role(site):
    from erechnung.model.access import Role

    users = load_config(site.config).console.users
    assert {u.role for u in users} == set(Role)
