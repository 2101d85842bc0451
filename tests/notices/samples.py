"""The sample notices of ``examples/notices`` and the test seal's password."""
from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "notices"
SAMPLES = ("gebuehrenbescheid-sondernutzung", "hundesteuerbescheid", "grundsteuerbescheid", "gewerbesteuerbescheid")
SEAL_PASSWORD = "Test-Siegel-Passwort ÄÖÜ 123"


def draft(name: str):
    """The sample draft ``name`` (a file name in examples/notices without ``.json``)."""
    from erechnung.notices import NoticeDraft

    return NoticeDraft.model_validate_json((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
