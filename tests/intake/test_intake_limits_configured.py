"""The readers' limits are configuration (issue 10): ``[limits]`` overrides the table's defaults, next to the drop
zone's bounds; a wrong key or value is a configuration mistake reported like every other."""
from __future__ import annotations

from pathlib import Path

import pytest

from erechnung.config import ConfigError, parse_config
from erechnung.intake import read_batch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.toml"


def _with(limits: str):
    return parse_config(EXAMPLE.read_text(encoding="utf-8") + "\n[limits]\n" + limits + "\n", "config.toml",
                        base_dir=EXAMPLE.parent)


def test_defaults_hold_without_a_limits_section(config):
    assert (config.limits.max_rows, config.limits.max_cells, config.limits.max_compression_ratio) == \
        (100_000, 2_000_000, 100)


def test_configured_limits_are_what_read_batch_applies():
    config = _with("max_rows = 3\nfile_bytes = 4000")
    assert config.limits.max_rows == 3 and config.limits.file_bytes == 4000
    data = b"Name;Betrag\n" + b"A;1\n" * 3
    batch = read_batch(data, "x.csv", limits=config.limits)
    assert batch.errors[0].problem == "die Datei hat mehr als 3 Zeilen (Grenze limits.max_rows = 3)"


def test_a_misspelt_or_impossible_limit_is_a_configuration_mistake():
    with pytest.raises(ConfigError) as exc:
        _with("max_rowz = 3\nmax_cells = 0")
    problems = {p.key: p for p in exc.value.problems}
    assert "meinten Sie 'max_rows'?" in problems["limits.max_rowz"].fix
    assert problems["limits.max_cells"].value == "0"
