"""The official artifacts install from a mirror or the official archives, every file checked by sha256."""
from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest

from erechnung import artifacts
from erechnung.artifacts import ArtifactError, ManifestEntry, _ArchiveCache, install_manifest

ROOT = Path(__file__).resolve().parent.parent


def _entry(target: str, data: bytes, mirror: str = "", official: str = "") -> ManifestEntry:
    return ManifestEntry(target, hashlib.sha256(data).hexdigest(), mirror or target, official)


def test_installed_bundle_matches_its_manifest():
    for bundle in artifacts.bundles():
        entries = artifacts.read_manifest(artifacts.XSD_DIR / bundle.manifest)
        assert entries, bundle.name
        for e in entries:
            assert artifacts.sha256_of(bundle.directory / e.target) == e.sha256, e.target
        assert bundle.scenarios.is_file()


def test_install_copies_from_mirror_and_checks_sha(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "a").mkdir(parents=True)
    (mirror / "a" / "x.xsd").write_bytes(b"<schema/>")
    entries = [_entry("resources/x.xsd", b"<schema/>", "a/x.xsd")]
    dest = tmp_path / "bundle"
    assert install_manifest(entries, dest, mirror, _ArchiveCache(tmp_path / "dl")) == (1, 0)
    assert (dest / "resources/x.xsd").read_bytes() == b"<schema/>"
    # a second install finds the file in place and copies nothing
    assert install_manifest(entries, dest, mirror, _ArchiveCache(tmp_path / "dl")) == (0, 1)


def test_wrong_file_in_mirror_stops_install_and_names_it(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "x.xsl").write_bytes(b"tampered")
    entries = [_entry("resources/x.xsl", b"original", "x.xsl")]
    with pytest.raises(ArtifactError, match=r"resources/x\.xsl: sha256 .* does not match"):
        install_manifest(entries, tmp_path / "bundle", mirror, _ArchiveCache(tmp_path / "dl"))
    assert not (tmp_path / "bundle" / "resources/x.xsl").exists()


def test_missing_file_without_official_source_names_it(tmp_path):
    (tmp_path / "mirror").mkdir()
    entries = [_entry("resources/gone.xsd", b"x", "gone.xsd")]
    with pytest.raises(ArtifactError, match=r"resources/gone\.xsd: not found in the mirror"):
        install_manifest(entries, tmp_path / "bundle", tmp_path / "mirror", _ArchiveCache(tmp_path / "dl"))


@pytest.fixture()
def archive_server(tmp_path):
    """A real HTTP server on loopback serving an 'official release archive' with a nested zip inside."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("resources/inner.xsl", b"<xsl/>")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("repo-abc/schemas/a.xsd", b"<a/>")
        z.writestr("repo-abc/docs/release.zip", inner.getvalue())
    site = tmp_path / "site"
    site.mkdir()
    (site / "abc.zip").write_bytes(outer.getvalue())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(site), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/abc.zip"
    server.shutdown()


def test_download_from_official_archive_when_no_mirror(tmp_path, archive_server):
    entries = [
        _entry("resources/a.xsd", b"<a/>", official=f"{archive_server}!repo-abc/schemas/a.xsd"),
        _entry("resources/inner.xsl", b"<xsl/>",
               official=f"{archive_server}!repo-abc/docs/release.zip!resources/inner.xsl"),
    ]
    dest = tmp_path / "bundle"
    assert install_manifest(entries, dest, None, _ArchiveCache(tmp_path / "dl")) == (2, 0)
    assert (dest / "resources/inner.xsl").read_bytes() == b"<xsl/>"


def test_downloaded_file_with_wrong_sha_is_refused(tmp_path, archive_server):
    entries = [ManifestEntry("resources/a.xsd", "0" * 64, "a.xsd", f"{archive_server}!repo-abc/schemas/a.xsd")]
    with pytest.raises(ArtifactError, match=r"resources/a\.xsd: sha256 .* from http://127\.0\.0\.1"):
        install_manifest(entries, tmp_path / "bundle", None, _ArchiveCache(tmp_path / "dl"))


def test_unreachable_official_archive_is_a_clear_error(tmp_path):
    entries = [_entry("x.xsd", b"x", official="http://127.0.0.1:9/none.zip!x.xsd")]
    with pytest.raises(ArtifactError, match=r"cannot download http://127\.0\.0\.1:9/none\.zip"):
        install_manifest(entries, tmp_path / "bundle", None, _ArchiveCache(tmp_path / "dl"))


def test_an_html_page_instead_of_the_archive_is_a_clear_artifact_error_and_is_not_kept(tmp_path, archive_server):
    """A proxy answering the download with its error page (status 200, HTML) is named as such, not a BadZipFile
    traceback; once the proxy is fixed, the next install downloads the archive again."""
    site = tmp_path / "site"
    good = (site / "abc.zip").read_bytes()
    (site / "abc.zip").write_bytes(b"<!DOCTYPE html><html><body>Proxy error: access denied</body></html>")
    entries = [_entry("resources/a.xsd", b"<a/>", official=f"{archive_server}!repo-abc/schemas/a.xsd")]
    with pytest.raises(ArtifactError, match=r"abc\.zip: the download is an HTML page .* not the official release"):
        install_manifest(entries, tmp_path / "bundle", None, _ArchiveCache(tmp_path / "dl"))
    assert not any((tmp_path / "dl").iterdir())  # the page is not kept as if it were the archive
    (site / "abc.zip").write_bytes(good)
    assert install_manifest(entries, tmp_path / "bundle", None, _ArchiveCache(tmp_path / "dl")) == (1, 0)


def test_a_nested_member_that_is_no_archive_is_a_clear_artifact_error(tmp_path, archive_server):
    entries = [_entry("x.xsl", b"<xsl/>", official=f"{archive_server}!repo-abc/schemas/a.xsd!x.xsl")]
    with pytest.raises(ArtifactError, match=r"a\.xsd: the download is 4 bytes that are not a zip archive"):
        install_manifest(entries, tmp_path / "bundle", None, _ArchiveCache(tmp_path / "dl"))


def test_bundles_install_side_by_side_and_the_one_in_force_is_chosen_by_date(tmp_path):
    xsd = tmp_path / "xsd"
    xsd.mkdir()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "s1.xml").write_bytes(b"<old/>")
    (mirror / "s2.xml").write_bytes(b"<new/>")
    for name, data, src in (("old", b"<old/>", "s1.xml"), ("new", b"<new/>", "s2.xml")):
        (xsd / f"{name}.tsv").write_text("target\tsha256\tmirror\tofficial\n"
                                         f"scenarios.xml\t{hashlib.sha256(data).hexdigest()}\t{src}\t\n")
    (xsd / "bundles.tsv").write_text("bundle\tvalid_from\tmanifest\tdescription\n"
                                     "b-new\t2026-01-31\tnew.tsv\tnewer\n"
                                     "b-old\t2024-02-01\told.tsv\tolder\n")
    (xsd / "cases.tsv").write_text("target\tsha256\tmirror\tofficial\n")
    artifacts.install(mirror=mirror, xsd_dir=xsd, log=lambda *_: None)
    assert (xsd / "b-old" / "scenarios.xml").read_bytes() == b"<old/>"
    assert (xsd / "b-new" / "scenarios.xml").read_bytes() == b"<new/>"
    assert artifacts.bundle_in_force(date(2025, 6, 1), xsd).name == "b-old"
    assert artifacts.bundle_in_force(date(2026, 3, 1), xsd).name == "b-new"
    assert artifacts.bundle_in_force(None, xsd).name == "b-new"
    assert artifacts.bundle_in_force(date(2020, 1, 1), xsd).name == "b-old"


def test_install_command_reports_a_wrong_mirror_file_and_exits_nonzero(tmp_path):
    """`python -m erechnung.artifacts install` names the bad file (what make install shows a user)."""
    xsd = tmp_path / "xsd"
    xsd.mkdir()
    for f in ("bundles.tsv", "cases.tsv"):
        shutil.copy(artifacts.XSD_DIR / f, xsd / f)
    manifest = artifacts.XSD_DIR / artifacts.bundles()[-1].manifest
    shutil.copy(manifest, xsd / manifest.name)
    mirror = tmp_path / "mirror"
    src = artifacts.default_mirror()
    assert src is not None, "the shared conformance mirror is needed by this test"
    shutil.copytree(src / "kosit", mirror / "kosit")
    shutil.copytree(src / "schemas", mirror / "schemas")
    shutil.copytree(src / "schematron", mirror / "schematron")
    shutil.copytree(src / "visualization", mirror / "visualization")
    bad = mirror / "schemas/ubl-2.1/xsdrt/maindoc/UBL-Invoice-2.1.xsd"
    bad.chmod(0o644)
    bad.write_bytes(bad.read_bytes() + b"<!-- changed -->")
    env = {"ERECHNUNG_XSD_DIR": str(xsd), "ERECHNUNG_ARTIFACTS_MIRROR": str(mirror), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "erechnung.artifacts", "install", "--no-cases"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 1
    assert "resources/ubl/2.1/xsd/maindoc/UBL-Invoice-2.1.xsd" in proc.stderr
    assert "does not match" in proc.stderr
