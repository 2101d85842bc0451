"""Issue 14, access: each role signs in and reaches its pages and no others; a wrong password is refused and
logged; no page shows anything without a session; a form without the session's CSRF token is refused; a
department clerk reaches nothing of another department by any URL; who viewed which document is logged."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from .conftest import csrf_of, sign_in

pytestmark = pytest.mark.xdist_group("console")

#: role's demo account -> (start page, pages it may open, pages refused with 403)
ROLES = {
    "standesamt": ("/ablage", ["/ablage", "/dokumente"], ["/zustellung", "/laeufe", "/pruefung"]),
    "kasse": ("/zustellung", ["/zustellung", "/laeufe", "/dokumente"], ["/ablage", "/pruefung"]),
    "pruefung": ("/dokumente", ["/dokumente", "/zustellung", "/pruefung"], ["/ablage", "/laeufe"]),
    "admin": ("/zustellung", ["/ablage", "/dokumente", "/zustellung", "/laeufe", "/pruefung"], []),
}


@pytest.mark.parametrize("name", sorted(ROLES))
def test_each_role_signs_in_and_reaches_only_its_pages(client_for, name):
    start, allowed, refused = ROLES[name]
    client = client_for(name)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == start
    for path in allowed:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert f"{name} (" in r.text and 'lang="de"' in r.text
    for path in refused:
        r = client.get(path)
        assert r.status_code == 403 and "Ihre Rolle erlaubt diese Seite nicht" in r.text, path


def test_a_wrong_password_is_refused_and_logged(site, client_for):
    from erechnung.state import transaction
    from erechnung.state.console_schema import ConsoleAccess

    client = client_for()
    r = sign_in(client, "kasse", "falsch-falsch-falsch")
    assert r.status_code == 401 and "Benutzername oder Passwort ist falsch" in r.text
    assert client.get("/zustellung", follow_redirects=False).status_code == 303  # still not signed in
    r = sign_in(client, "niemand", "kasse-demo-2026")  # an unknown user gets the same answer
    assert r.status_code == 401 and "Benutzername oder Passwort ist falsch" in r.text
    engine = site.engine()
    with transaction(engine) as s:
        failed = [a.user_name for a in s.execute(select(ConsoleAccess).where(
            ConsoleAccess.action == "login_failed")).scalars()]
    engine.dispose()
    assert "kasse" in failed and "niemand" in failed


@pytest.mark.parametrize("path", ["/dokumente/1", "/dokumente/1/ansicht", "/dokumente/1/pruefbericht",
                                  "/dateien/7", "/dateien/7/fehlerbericht/html", "/zustellung", "/pruefung"])
def test_nothing_without_a_session(site, client_for, path):
    r = client_for().get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/anmelden?weiter="), r.status_code
    assert "Mustermann" not in r.text and "K-10001" not in r.text


def test_a_post_without_the_csrf_token_is_refused(site, client_for):
    client = client_for("kasse")
    for data in ({"aktion": "retry"}, {"aktion": "retry", "csrf": "erfunden"}):
        r = client.post("/zustellung/1/aktion", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/laeufe", data={"abteilung": "standesamt"})
    assert r.status_code == 403
    # the sign-in form too: a token from another session does not count
    other = client_for()
    token = csrf_of(other.get("/anmelden").text)
    fresh = client_for()
    fresh.get("/anmelden")
    r = fresh.post("/anmelden", data={"csrf": token, "name": "kasse", "password": "kasse-demo-2026"},
                   follow_redirects=False)
    assert r.status_code == 403


def test_session_cookie_and_security_headers(client_for):
    from starlette.testclient import TestClient

    client = client_for()
    r = sign_in(client, "pruefung")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = client.get("/dokumente")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text.lower() and "http://" not in page.text and "https://" not in page.text
    view = client.get("/dokumente/7/ansicht")  # the official viewer's own script runs sandboxed
    assert view.status_code == 200 and "sandbox allow-scripts" in view.headers["content-security-policy"]
    assert isinstance(client, TestClient)


def _other_department(site, own: set[str]):
    from erechnung.state import transaction
    from erechnung.state.schema import ArchiveItem, Batch, Document

    engine = site.engine()
    with transaction(engine) as s:
        docs = [(d.id, d.department) for d in s.execute(select(Document)).scalars() if d.department not in own]
        batches = [b.id for b in s.execute(select(Batch)).scalars()
                   if b.department not in own and not b.department.startswith("_lock:")]
        items = [i.sha256 for i in s.execute(select(ArchiveItem)).scalars() if i.department not in own]
        own_docs = [d.id for d in s.execute(select(Document)).scalars() if d.department in own]
    engine.dispose()
    return docs, batches, items, own_docs


def test_a_clerk_reaches_nothing_of_another_department(site, client_for):
    client = client_for("standesamt")
    docs, batches, items, own_docs = _other_department(site, {"standesamt"})
    assert docs and batches and items and own_docs
    for doc_id, _ in docs:
        for suffix in ("", "/ansicht", "/pruefbericht"):
            r = client.get(f"/dokumente/{doc_id}{suffix}")
            assert r.status_code == 404 and "Nicht gefunden" in r.text, (doc_id, suffix)
        r = client.post(f"/zustellung/{doc_id}/aktion", data={"csrf": csrf_of(client.get("/ablage").text),
                                                              "aktion": "retry"})
        assert r.status_code == 403
    for batch_id in batches:
        for suffix in ("", "/fehlerbericht/html", "/fehlerbericht/csv"):
            assert client.get(f"/dateien/{batch_id}{suffix}").status_code == 404, (batch_id, suffix)
    for sha in items:
        assert client.get(f"/archiv/{sha}").status_code == 404, sha
    # the search lists only the clerk's own documents, whatever it asks for
    listed = client.get("/dokumente?empfaenger=K-").text
    assert all(f'href="/dokumente/{d}"' not in listed for d, _ in docs)
    assert any(f'href="/dokumente/{d}"' in listed for d in own_docs)
    # an upload into another department's drop zone is refused before anything is written
    token = csrf_of(client.get("/ablage").text)
    r = client.post("/ablage", data={"csrf": token, "abteilung": "steueramt"},
                    files={"datei": ("x.csv", b"a;b\n1;2\n", "text/csv")})
    assert r.status_code == 404
    assert not (site.root / "dropzones" / "steueramt" / "x.csv").exists()
    # the own department's document is there
    assert client.get(f"/dokumente/{own_docs[0]}").status_code == 200


def test_who_viewed_which_document_is_logged(site, client_for):
    from erechnung.state import transaction
    from erechnung.state.console_schema import ConsoleAccess

    client = client_for("pruefung")
    assert client.get("/dokumente/3").status_code == 200
    assert client.get("/dokumente/3/pruefbericht").status_code == 200
    engine = site.engine()
    with transaction(engine) as s:
        rows = [(a.user_name, a.role, a.action, a.path) for a in s.execute(select(ConsoleAccess).where(
            ConsoleAccess.document_id == 3).order_by(ConsoleAccess.id)).scalars()]
    engine.dispose()
    assert ("pruefung", "auditor", "document_viewed", "/dokumente/3") in rows
    assert ("pruefung", "auditor", "validation_report_viewed", "/dokumente/3/pruefbericht") in rows
    page = client.get("/pruefung").text  # the auditor reads the log in the console
    assert "document_viewed" in page


def test_sign_in_goes_back_only_to_a_page_of_this_site(client_for):
    from .conftest import csrf_of

    for target, expected in (("/dokumente?nummer=1", "/dokumente?nummer=1"), ("//evil.example/", "/"),
                             ("/\\evil.example/", "/"), ("https://evil.example/", "/")):
        client = client_for()
        token = csrf_of(client.get("/anmelden").text)
        r = client.post("/anmelden", data={"csrf": token, "name": "pruefung", "password": "pruefung-demo-2026",
                                           "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == expected, target
