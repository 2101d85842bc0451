"""Issue 14, done when: ``erechnung console`` (the real command, a real server on loopback) answers a request
for a document page without a session with the way to the login page, never the document; signed in, the page is
there."""
from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("console")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, method: str, path: str, body: str | None = None, cookie: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    conn.close()
    return r, data


@pytest.fixture
def server(site):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), ERECHNUNG_CONSOLE_SECRET="test-secret-" + "x" * 32)
    proc = subprocess.Popen([sys.executable, "-m", "erechnung", "console", "--config", str(site.config),
                             "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode())
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_the_console_command_never_shows_a_document_without_a_session(server):
    r, body = _request(server, "GET", "/dokumente/1")
    assert r.status == 303 and r.getheader("Location") == "/anmelden?weiter=/dokumente/1"
    assert "K-10001" not in body and "Mustermann" not in body
    r, body = _request(server, "POST", "/zustellung/1/aktion", "aktion=retry")
    assert r.status in (401, 403)

    r, login = _request(server, "GET", "/anmelden")
    cookie = r.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', login)[1]
    form = urllib.parse.urlencode({"csrf": token, "name": "pruefung", "password": "pruefung-demo-2026"})
    r, _ = _request(server, "POST", "/anmelden", form, cookie)
    assert r.status == 303
    cookie = r.getheader("Set-Cookie").split(";")[0]
    r, body = _request(server, "GET", "/dokumente/1", cookie=cookie)
    assert r.status == 200 and "K-10001" in body and "Archivierte Originale" in body
    assert r.getheader("Server") is None  # no server banner
