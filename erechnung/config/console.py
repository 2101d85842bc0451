"""``[console]``: where the web console is reached, so that reports and Prefect artifacts can link to its pages.

    [console]
    base_url = "https://erechnung.musterstadt.example"   # no trailing slash needed

Without ``base_url`` nothing links to the console; reports say where a file lies instead.
"""
from __future__ import annotations

from .problems import Strict


class ConsoleSection(Strict):
    base_url: str | None = None


def console_link(config: object, path: str) -> str | None:
    """``{base_url}/{path}`` when the configuration names the console's address, else None. Read defensively
    (``getattr``): a configuration object without ``[console]`` simply has no links."""
    base = getattr(getattr(config, "console", None), "base_url", None)
    if not base:
        return None
    return f"{str(base).rstrip('/')}/{path.lstrip('/')}"
