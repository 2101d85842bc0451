"""Issue 14, done when: headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright with the system
browser; no browser download) signs in per role, uploads a file with a bad row and reads the error, finds a
document and opens its report, retries a dead letter, and fails to reach another department's document by its
URL, against the console served by uvicorn on loopback. It saves its screenshots in a temporary folder, or, with
``ERECHNUNG_SCREENSHOTS=docs/console``, as the README's pictures (so that a test run leaves the checkout unchanged).
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from .test_departments import BAD, GOOD, HEADER
from .test_finance import _dead_letter

pytestmark = pytest.mark.xdist_group("console")
ROOT = Path(__file__).resolve().parents[2]
SHOTS_ENV = "ERECHNUNG_SCREENSHOTS"  # e.g. docs/console: renew the README's screenshots
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def base_url(site):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install playwright (the browser is the system's chromium)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (make install does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _sign_in(browser, base_url: str, name: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE").new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base_url}/")
    assert "/anmelden" in page.url
    page.fill("#name", name)
    page.fill("#password", f"{name}-demo-2026")
    page.click("button:has-text('Anmelden')")
    page.errors = errors  # CSP violations show as console errors
    return page


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where the screenshots go: ``$ERECHNUNG_SCREENSHOTS`` (relative to the checkout), else a temporary folder."""
    folder = ROOT / os.environ[SHOTS_ENV] if os.environ.get(SHOTS_ENV) else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("name, start, role", [("standesamt", "/ablage", "Fachabteilung"),
                                               ("kasse", "/zustellung", "Stadtkasse"),
                                               ("pruefung", "/dokumente", "Prüfung"),
                                               ("admin", "/zustellung", "Administration")])
def test_sign_in_per_role(browser, base_url, name, start, role):
    page = _sign_in(browser, base_url, name)
    assert page.url == f"{base_url}{start}"
    assert role in page.inner_text("header")
    page.click("button:has-text('Abmelden')")
    assert "/anmelden" in page.url
    assert not page.errors, page.errors


def test_upload_a_file_with_a_bad_row_and_read_the_error(browser, base_url, site, shots):
    clerk = _sign_in(browser, base_url, "standesamt")
    data = (HEADER + GOOD.replace("0901", "0911") + BAD.replace("0902", "0912")).encode("windows-1252")
    clerk.set_input_files("#datei", files=[{"name": "Export Dezember.csv", "mimeType": "text/csv",
                                            "buffer": data}])
    clerk.click("button:has-text('Hochladen')")
    assert "liegt in der Ablage der Abteilung Standesamt" in clerk.inner_text(".message")

    kasse = _sign_in(browser, base_url, "kasse")
    kasse.click("a:has-text('Läufe')")
    kasse.locator("tr", has_text="Standesamt").locator("button:has-text('Lauf starten')").click()
    assert "Lauf für Standesamt gestartet" in kasse.inner_text(".message")
    site.app.state.console.runs.wait("standesamt", timeout=300)

    clerk.goto(f"{base_url}/ablage")
    clerk.locator("a", has_text="Export_Dezember.csv").first.click()
    table = clerk.inner_text("body")
    assert "Zeilen mit Fehlern (1)" in table and "keine Zahl" in table and "zwei" in table
    clerk.screenshot(path=str(shots / "abteilung-datei.png"), full_page=True)
    clerk.click("a:has-text('als Seite')")
    assert "zwei" in clerk.content()
    assert not clerk.errors, clerk.errors


def test_find_a_document_and_open_its_report(browser, base_url, shots):
    auditor = _sign_in(browser, base_url, "pruefung")
    auditor.fill("input[name=kassenzeichen]", "5.0300.100001.4")  # Erika Mustermann's Abfallgebührenbescheid
    auditor.click("button:has-text('Suchen')")
    auditor.wait_for_url("**kassenzeichen=5.0300.100001.4**")  # a click does not wait for the page it opens
    auditor.locator("table a").first.wait_for(timeout=15000)
    assert auditor.locator("table a").count() == 1
    auditor.locator("table a").first.click()
    body = auditor.inner_text("body")
    assert "/dokumente/" in auditor.url and "Archivierte Originale" in body and "5.0300.100001.4" in body
    assert "Bekanntgegeben am" in body and "über print" in body  # the letter after the closed postbox
    auditor.screenshot(path=str(shots / "pruefung-dokument.png"), full_page=True)
    auditor.click("a:has-text('Prüfbericht')")
    assert "Prüfbericht" in auditor.inner_text("h1") and "<rep:report" in auditor.inner_text("pre")
    assert 'valid="true"' in auditor.inner_text("pre")
    auditor.go_back()
    auditor.click("a:has-text('Amtliche Visualisierung')")
    assert auditor.url.endswith("/ansicht")
    assert not auditor.errors, auditor.errors


def test_retry_a_dead_letter(browser, base_url, site, shots):
    _dead_letter(site, 21, "Druckerei: Brief unzustellbar, Empfänger verzogen")
    kasse = _sign_in(browser, base_url, "kasse")
    row = kasse.locator("tr", has_text="Empfänger verzogen")
    assert row.count() == 1
    row.locator("input[name=notiz]").fill("neue Anschrift vom Einwohnermeldeamt")
    kasse.screenshot(path=str(shots / "stadtkasse-zustellung.png"), full_page=True)
    row.locator("button:has-text('Erneut zustellen')").click()
    assert "Dokument 21: erneut zustellen" in kasse.inner_text(".message")
    assert kasse.locator("tr", has_text="Empfänger verzogen").count() == 0
    assert not kasse.errors, kasse.errors


def test_another_departments_document_is_not_reachable(browser, base_url):
    clerk = _sign_in(browser, base_url, "standesamt")
    response = clerk.goto(f"{base_url}/dokumente/21")  # a Hundesteuerbescheid of the Steueramt
    assert response.status == 404 and "Nicht gefunden" in clerk.inner_text("body")
    assert "Hundesteuer" not in clerk.content()
