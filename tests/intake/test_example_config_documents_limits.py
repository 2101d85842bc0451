"""The example configuration, which the README names as the description of every key, shows every bound of
``[limits]`` with the default the code applies: an operator who reads it raises the right limit from the right
value (issue 10, bounded input)."""
from __future__ import annotations

import re
from pathlib import Path

from erechnung.config.limits import Limits

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.toml"


def test_example_config_shows_every_limit_with_its_default():
    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# [limits]"):].split("\n\n", 1)[0]
    shown = {m.group(1): int(m.group(2)) for m in re.finditer(r"^# (\w+) = (\d+)", block, re.MULTILINE)}
    defaults = {name: field.default for name, field in Limits.model_fields.items()}
    assert shown == defaults
