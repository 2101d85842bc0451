"""Times as people in the municipality read them: on the Europe/Berlin clock, with the zone named.

Every time shown in a report, an artifact or a page carries its zone: ``06.12.2026 14:05 MEZ`` (winter) or
``MESZ`` (summer), never a UTC time beside a Berlin time. ``berlin_iso`` is the same instant as ISO 8601 with
its offset, for machines and tables that sort.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
#: The German names of the zone's two offsets (tzdata calls them CET and CEST).
ZONE_NAMES = {"CET": "MEZ", "CEST": "MESZ"}


def in_berlin(when: datetime) -> datetime:
    """``when`` on the Berlin clock; a naive time is taken as UTC (the state database stores UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(BERLIN)


def berlin_text(when: datetime, *, seconds: bool = False) -> str:
    """``06.12.2026 14:05 MEZ`` (``seconds``: ``14:05:09``)."""
    local = in_berlin(when)
    zone = local.tzname() or ""
    return f"{local:%d.%m.%Y %H:%M}{':%02d' % local.second if seconds else ''} {ZONE_NAMES.get(zone, zone)}"


def berlin_iso(when: datetime) -> str:
    """``2026-12-06T14:05:09+01:00``."""
    return in_berlin(when).isoformat(timespec="seconds")
