"""``erechnung samples``: the sample deliveries into a configuration's drop zones (the README's Prefect path)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 4


def run_samples(config_path: Path, departments: Sequence[str] = (), out=None) -> int:
    from erechnung.config import ConfigError, load_config

    from ..demo.samples import drop_samples

    out = out or sys.stdout
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = [d for d in departments if d not in config.departments]
    if unknown:
        print(f"Fehler: keine Abteilung {', '.join(unknown)} in {config_path}; bekannt: "
              f"{', '.join(config.departments)}", file=sys.stderr)
        return EXIT_USAGE
    dropped = drop_samples(config, list(departments) or None)
    for dep_id, names in dropped.files.items():
        print(f"{config.department(dep_id).name}: {len(names)} Datei(en) abgelegt in "
              f"{config.department(dep_id).drop_zone}: {', '.join(names)}", file=out)
    for dep_id, why in dropped.failed.items():
        print(f"{config.department(dep_id).name}: nichts abgelegt – {why}", file=sys.stderr)
    return EXIT_FAILED if dropped.failed else EXIT_OK
