"""``make demo``, part 2: the whole pipeline on Stadt Musterstadt's sample deliveries.

Everything lives under ``out/pipeline/`` and is kept between runs: a configuration made from
``examples/config.toml`` with local folders (``dropzones/<department>``, ``archive/``, ``work/``, ``reports/``) and
a SQLite database. Each demo run drops the sample files of ``examples/batches/`` into the drop zones again, so the
second run shows what a file delivered twice does: it is recognised and creates nothing (``erechnung documents
--db sqlite:///out/pipeline/erechnung.sqlite3`` lists what exists). The run uses the plain functions
(``erechnung.pipeline.run``), no Prefect server; ``make demo`` stays fast.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from rich.console import Console

from ..cli.samples import EXAMPLES, sample_files  # the sample deliveries, as `erechnung samples` drops them

#: Delivery paths of the configuration, under the demo's root: the sandboxes' connections, the adapters' journals.
DELIVERY_PATHS = {"include": "sandbox/delivery.toml", "journal_dir": "delivery-journals"}
OUT = Path("out/pipeline")


def config_text(root: Path, *, examples: Path = EXAMPLES, s3_zones: dict[str, str] | None = None,
                database_url: str | None = None, archive: str | None = None) -> str:
    """``examples/config.toml`` with every location under ``root`` (drop zones ``root/dropzones/<id>``, archive
    ``root/archive``, database ``root/erechnung.sqlite3``, delivery: the sandboxes' ``root/sandbox/delivery.toml``,
    journals, print batches ``root/print``), mapping profiles and recipients from ``examples``;
    ``s3_zones`` puts named departments' drop zones into S3 instead (``{"ordnungsamt": "s3://bucket/zone"}``)."""
    root = root.resolve()
    s3_zones = s3_zones or {}
    out, section = [], ""
    for line in (examples / "config.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            section = header[1]
        key = re.match(r"^(\w+)\s*=\s*\"([^\"]*)\"", line)
        if key:
            name, value = key[1], key[2]
            if name == "recipients" and not section:
                line = f'recipients = "{(examples / value).resolve().as_posix()}"'
            elif name == "design" and section == "municipality":
                line = f'design = "{(examples / value).resolve().as_posix()}"'
            elif name == "mapping" and section.startswith("departments."):
                line = f'mapping = "{(examples / value).resolve().as_posix()}"'
            elif name == "drop_zone" and section.startswith("departments."):
                dep = section.split(".", 1)[1]
                line = f'drop_zone = "{s3_zones.get(dep) or (root / "dropzones" / dep).as_posix()}"'
            elif name == "url" and section == "database":
                line = f'url = "{database_url or "sqlite:///" + (root / "erechnung.sqlite3").as_posix()}"'
            elif name == "location" and section == "archive":
                line = f'location = "{archive or (root / "archive").as_posix()}"'
            elif section == "delivery" and name in DELIVERY_PATHS:
                line = f'{name} = "{(root / DELIVERY_PATHS[name]).as_posix()}"'
            elif section == "delivery.print" and name == "outbox":
                line = f'outbox = "{(root / "print").as_posix()}"'
        out.append(line)
    return "\n".join(out) + "\n"


def prepare(root: Path = OUT, *, drop: bool = True) -> Path:
    """Write ``root/config.toml`` and (``drop``) copy the sample deliveries into the drop zones; returns the
    configuration's path."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.toml"
    config.write_text(config_text(root), encoding="utf-8")
    if drop:
        for department, f in sample_files():
            zone = root / "dropzones" / department
            zone.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, zone / f.name)
    return config



def main(root: Path = OUT, console: Console | None = None, *, deliver: bool = True) -> int:
    from ...pipeline import Options, run
    from ..cli.run import summary_table

    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    console.rule("[bold]erechnung pipeline demo[/bold]")
    config = prepare(root)
    console.print(f"Sample deliveries dropped into {root / 'dropzones'}/ (again, if the demo ran before).")
    console.print("Running the pipeline (intake, render and validate, archive, hand over) ...")
    summary = run(config, options=Options(workers=1), work_dir=root / "work", report_dir=root / "reports")
    console.print(summary_table(summary), width=max(console.width, 110))
    for r in summary.rejected:
        console.print(f"[red]rejected[/red] {r.department} {r.number or r.id}: {r.reason} {'; '.join(r.errors[:2])}")
    for dep, where in summary.error_reports:
        console.print(f"error report ({dep}): {where}")
    t = summary.totals
    if t.duplicates and not t.documents:
        console.print(f"[green]All {t.duplicates} files were delivered before: recognised, nothing created twice."
                      "[/green]")
    console.print(f"run report:  {summary.report_html}")
    console.print(f"archive:     {root / 'archive'}/ (content-addressed, with retention)")
    console.print(f"documents:   .venv/bin/erechnung documents --db sqlite:///{(root / 'erechnung.sqlite3').as_posix()}")
    code = 1 if summary.rejected else 0
    if deliver:  # part 3: deliver what was handed over through the local sandboxes
        from .delivery import deliver_demo

        code = max(code, deliver_demo(root.resolve(), config, console))
        from .bank import money_demo  # part 4: the bank answers, the Stadtkasse matches and dunns

        code = max(code, money_demo(root.resolve(), config, console))
    return code


if __name__ == "__main__":
    sys.exit(main())
