"""When a notice counts as notified (Bekanntgabe): the legal rules as configuration (``legal.toml``), per legal
basis and Land, and functions that compute the date and return it with every input it was computed from.

    rules = LegalRules.load()                      # erechnung/config/legal.toml, or a path
    result = compute_notification_date(rules, "ao_122a", "NW", notification_sent_at=sent)
    result.date                                    # datetime.date
    result.inputs()                                # what to store beside it (notification_dates.inputs)

Days are counted on the calendar of Europe/Berlin: the start event's local day is day 0, the period ends on day
``days``. Where the rule says so, an end on a Saturday, Sunday or public holiday of the Land moves to the next
working day (§ 108 Abs. 3 AO; holidays from the ``holidays`` package, version stored with the date). An earlier
first retrieval ends the period on the retrieval day (+ ``retrieval_offset_days``) where the rule says so (§ 9
Abs. 1 OZG). Under the retrieval model (§ 41 Abs. 2a VwVfG) the notice is notified the day after retrieval; one
not retrieved within ``retrieval_deadline_days`` after the notification is not notified at all
(:func:`retrieval_deadline`), and ``on_deadline`` says what the delivery service does then.

Domain code: no I/O beyond reading the TOML file.
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo

from erechnung.config.channels import LEGAL_RULES as DEFAULT_RULES
from erechnung.errors import ErechnungError
from erechnung.model.codes import LANDS

from .texts import NOTIFICATION, START_NAMES

START_EVENTS = ("provision", "notification_sent", "retrieval")
StartEvent = Literal["provision", "notification_sent", "retrieval"]


class LegalRuleError(ErechnungError):
    """The legal configuration is wrong or does not cover a case (unknown basis, bad key, unknown Land)."""


@dataclass(frozen=True)
class Rule:
    """One legal basis as in force for one Land (the Land's overrides applied)."""

    basis: str
    title: str
    start: StartEvent
    periods: tuple[tuple[date, int], ...]  # (from, days), oldest first
    earlier_retrieval_wins: bool = False
    retrieval_offset_days: int = 0
    shift_to_working_day: bool = False
    retrieval_deadline_days: int | None = None
    on_deadline: Literal["fall_back", "resend"] = "fall_back"
    requires_consent: tuple[str, ...] = ()
    source: str = "default"  # "Land NW" when a Land entry applied

    def days_on(self, day: date) -> tuple[int, date]:
        """The period in force on ``day`` and since when."""
        in_force = [(since, days) for since, days in self.periods if since <= day]
        if not in_force:
            raise LegalRuleError(f"{self.basis}: no period in force on {day.isoformat()} (check 'periods')")
        since, days = in_force[-1]
        return days, since


_RULE_KEYS = {"title", "start", "days", "periods", "earlier_retrieval_wins", "retrieval_offset_days",
              "shift_to_working_day", "retrieval_deadline_days", "on_deadline", "requires_consent", "land"}


@dataclass(frozen=True)
class LegalRules:
    """The parsed ``legal.toml`` (see the file's header for the format)."""

    raw: Mapping[str, Any] = field(repr=False)
    sha256: str
    path: str
    time_zone: str = "Europe/Berlin"

    @classmethod
    def load(cls, path: str | Path | None = None) -> LegalRules:
        return _load(str(Path(path or DEFAULT_RULES).resolve()))

    @classmethod
    def from_text(cls, text: str, path: str = "<text>") -> LegalRules:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LegalRuleError(f"{path}: not valid TOML: {exc}") from None
        rules = cls(raw, hashlib.sha256(text.encode()).hexdigest(), path,
                    raw.get("calendar", {}).get("time_zone", "Europe/Berlin"))
        for basis in raw.get("rules", {}):  # check every rule and Land entry now, not at the first notice
            rules.rule(basis)
            for land in raw["rules"][basis].get("land", {}):
                rules.rule(basis, land)
        for group, channels in raw.get("notice_bases", {}).items():
            for channel, basis in channels.items():
                if basis not in raw.get("rules", {}):
                    raise LegalRuleError(f"{path}: notice_bases.{group}.{channel} names {basis!r}, which has no "
                                         f"[rules.{basis}]")
        return rules

    @property
    def version(self) -> str:
        return str(self.raw.get("version", ""))

    @property
    def bases(self) -> tuple[str, ...]:
        return tuple(self.raw.get("rules", {}))

    def rule(self, basis: str, land: str | None = None) -> Rule:
        """The rule for ``basis`` as it holds in ``land`` (None: the default entry)."""
        entries = self.raw.get("rules", {})
        if basis not in entries:
            raise LegalRuleError(f"no rule for legal basis {basis!r} in {self.path} (known: "
                                 f"{', '.join(entries) or 'none'})")
        entry = dict(entries[basis])
        source = "default"
        if land is not None:
            land = land.upper()
            if land not in LANDS:
                raise LegalRuleError(f"{land!r} is not a German Land code (one of {' '.join(LANDS)})")
            override = entry.get("land", {}).get(land)
            if override:
                entry = {**entry, **override}
                if "days" in override:
                    entry.pop("periods", None)
                if "periods" in override:
                    entry.pop("days", None)
                source = f"Land {land}"
        unknown = set(entry) - _RULE_KEYS
        if unknown:
            raise LegalRuleError(f"rules.{basis}: unknown key(s) {', '.join(sorted(unknown))}")
        start = entry.get("start")
        if start not in START_EVENTS:
            raise LegalRuleError(f"rules.{basis}.start must be one of {', '.join(START_EVENTS)}, not {start!r}")
        if "periods" in entry:
            periods = tuple(sorted((p["from"], int(p["days"])) for p in entry["periods"]))
            if not all(isinstance(since, date) for since, _ in periods):
                raise LegalRuleError(f"rules.{basis}.periods: 'from' must be a TOML date (2025-01-01)")
        elif "days" in entry:
            periods = ((date.min, int(entry["days"])),)
        else:
            raise LegalRuleError(f"rules.{basis}: give 'days' or 'periods'")
        on_deadline = entry.get("on_deadline", "fall_back")
        if on_deadline not in ("fall_back", "resend"):
            raise LegalRuleError(f"rules.{basis}.on_deadline must be fall_back or resend, not {on_deadline!r}")
        deadline = entry.get("retrieval_deadline_days")
        return Rule(basis=basis, title=str(entry.get("title", basis)), start=start, periods=periods,
                    earlier_retrieval_wins=bool(entry.get("earlier_retrieval_wins", False)),
                    retrieval_offset_days=int(entry.get("retrieval_offset_days", 0)),
                    shift_to_working_day=bool(entry.get("shift_to_working_day", False)),
                    retrieval_deadline_days=None if deadline is None else int(deadline),
                    on_deadline=on_deadline, requires_consent=tuple(entry.get("requires_consent", ())),
                    source=source)

    def basis_for(self, channel: str, group: str = "default") -> str | None:
        """The legal basis of a notice sent on ``channel`` (None: that channel does not carry notices)."""
        bases = self.raw.get("notice_bases", {})
        if group not in bases:
            raise LegalRuleError(f"no [notice_bases.{group}] in {self.path} (known: {', '.join(bases) or 'none'})")
        return bases[group].get(channel)

    def extra_holidays(self, land: str | None) -> tuple[str, ...]:
        if land is None:
            return ()
        return tuple(self.raw.get("calendar", {}).get("land", {}).get(land.upper(), {}).get("extra", ()))


@lru_cache(maxsize=8)
def _load(path: str) -> LegalRules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LegalRuleError(f"cannot read the legal rules {path}: {exc.strerror or exc}") from None
    return LegalRules.from_text(text, path)


# ============================================================================================== calendar


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays of a Land (None: only the nationwide ones) from the ``holidays`` package."""

    land: str | None
    extra: tuple[str, ...] = ()  # "MM-DD" of municipal holidays

    @property
    def name(self) -> str:
        return "DE" + (f"-{self.land}" if self.land else "") + ("+" + ",".join(self.extra) if self.extra else "")

    @property
    def version(self) -> str:
        import holidays

        return f"holidays {holidays.__version__}"

    def holiday(self, day: date) -> str | None:
        """The holiday's name on ``day``, or None."""
        if day.strftime("%m-%d") in self.extra:
            return NOTIFICATION["municipal_holiday"].format(day=day.strftime('%d.%m.'))
        return _holidays(self.land, day.year).get(day)

    def working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def next_working_day(self, day: date) -> date:
        while not self.working_day(day):
            day += timedelta(days=1)
        return day


@lru_cache(maxsize=128)
def _holidays(land: str | None, year: int):
    import holidays

    return holidays.country_holidays("DE", subdiv=land, years=year, language="de")


# ============================================================================================ computation


@dataclass(frozen=True)
class NotificationResult:
    """A computed notification date and everything it was computed from."""

    basis: str
    title: str
    land: str | None
    rule_source: str
    start_event: str
    start_at: datetime
    start_day: date
    days: int
    days_in_force_since: date | None
    period_end: date  # start day + days, before any shift
    shifted_for: tuple[str, ...]  # why the end moved ("2027-01-01 Neujahr", "2027-01-02 Saturday")
    retrieval_day: date | None
    date: date
    earlier_retrieval_wins: bool
    shift_to_working_day: bool
    calendar: str
    calendar_version: str
    rules_sha256: str
    rules_version: str
    provision_at: datetime | None
    notification_sent_at: datetime | None
    retrieved_at: datetime | None
    explanation: str

    def inputs(self) -> dict[str, Any]:
        """The inputs as JSON (stored beside the date in ``notification_dates.inputs``)."""

        def iso(v: datetime | date | None) -> str | None:
            return None if v is None else v.isoformat()

        return {"legal_basis": self.basis, "title": self.title, "land": self.land, "rule_source": self.rule_source,
                "start_event": self.start_event, "start_at": iso(self.start_at), "start_day": iso(self.start_day),
                "days": self.days, "days_in_force_since": iso(self.days_in_force_since),
                "period_end": iso(self.period_end), "shifted_for": list(self.shifted_for),
                "retrieval_day": iso(self.retrieval_day), "earlier_retrieval_wins": self.earlier_retrieval_wins,
                "shift_to_working_day": self.shift_to_working_day, "calendar": self.calendar,
                "calendar_version": self.calendar_version, "rules_sha256": self.rules_sha256,
                "rules_version": self.rules_version, "provision_at": iso(self.provision_at),
                "notification_sent_at": iso(self.notification_sent_at), "retrieved_at": iso(self.retrieved_at),
                "date": iso(self.date)}


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise LegalRuleError(f"{name} must carry a time zone")
    return value


_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def compute_notification_date(rules: LegalRules, basis: str, land: str | None, *,
                              provision_at: datetime | None = None, notification_sent_at: datetime | None = None,
                              retrieved_at: datetime | None = None) -> NotificationResult | None:
    """The day the notice counts as notified under ``basis`` in ``land``, with its inputs; None while the event
    that starts the period has not happened (and no earlier retrieval ended it)."""
    rule = rules.rule(basis, land)
    tz = ZoneInfo(rules.time_zone)
    times = {"provision": _aware("provision_at", provision_at),
             "notification_sent": _aware("notification_sent_at", notification_sent_at),
             "retrieval": _aware("retrieved_at", retrieved_at)}
    start_at = times[rule.start]
    retrieval_day = retrieved_at.astimezone(tz).date() if retrieved_at is not None else None
    if start_at is None and not (rule.earlier_retrieval_wins and retrieved_at is not None):
        return None
    calendar = HolidayCalendar(land.upper() if land else None, rules.extra_holidays(land))
    lines: list[str] = []
    shifted: list[str] = []
    if start_at is not None:
        start_day = start_at.astimezone(tz).date()
        days, since = rule.days_on(start_day)
        end = start_day + timedelta(days=days)
        period_end = end
        lines.append(NOTIFICATION["period"].format(
            title=rule.title, start=START_NAMES.get(rule.start, rule.start), day=start_day.isoformat(),
            time=start_at.astimezone(tz).strftime('%H:%M'), zone=rules.time_zone, days=days, end=end.isoformat(),
            weekday=_WEEKDAYS[end.weekday()]))
        if rule.shift_to_working_day:
            while not calendar.working_day(end):
                shifted.append(f"{end.isoformat()} {calendar.holiday(end) or _WEEKDAYS[end.weekday()]}")
                end += timedelta(days=1)
            if shifted:
                lines.append(NOTIFICATION["shifted"].format(end=end.isoformat(), weekday=_WEEKDAYS[end.weekday()],
                                                            skipped=", ".join(shifted), calendar=calendar.name))
        result = end
    else:  # only an earlier retrieval is known: it decides
        start_day, days, since, period_end, result = retrieval_day, 0, None, retrieval_day, None
    if rule.earlier_retrieval_wins and retrieval_day is not None:
        by_retrieval = retrieval_day + timedelta(days=rule.retrieval_offset_days)
        if result is None or by_retrieval < result:
            lines.append(NOTIFICATION["retrieval"].format(day=retrieval_day.isoformat(),
                                                          date=by_retrieval.isoformat()))
            result = by_retrieval
    assert result is not None and start_day is not None
    return NotificationResult(
        basis=basis, title=rule.title, land=calendar.land, rule_source=rule.source,
        start_event=rule.start, start_at=start_at or retrieved_at,  # type: ignore[arg-type]
        start_day=start_day, days=days, days_in_force_since=None if since in (None, date.min) else since,
        period_end=period_end, shifted_for=tuple(shifted), retrieval_day=retrieval_day, date=result,
        earlier_retrieval_wins=rule.earlier_retrieval_wins, shift_to_working_day=rule.shift_to_working_day,
        calendar=calendar.name, calendar_version=calendar.version, rules_sha256=rules.sha256,
        rules_version=rules.version, provision_at=provision_at, notification_sent_at=notification_sent_at,
        retrieved_at=retrieved_at, explanation="; ".join(lines) + " [" + (
            NOTIFICATION["default_rule"] if rule.source == "default"
            else NOTIFICATION["land_rule"].format(source=rule.source)) + "]")


def retrieval_deadline(rules: LegalRules, basis: str, land: str | None,
                       notification_sent_at: datetime | None) -> datetime | None:
    """The instant after which a notice not yet retrieved counts as not notified (the end of the last day of
    ``retrieval_deadline_days`` after the notification's local day); None when the rule has no deadline."""
    rule = rules.rule(basis, land)
    if rule.retrieval_deadline_days is None or notification_sent_at is None:
        return None
    tz = ZoneInfo(rules.time_zone)
    last_day = _aware("notification_sent_at", notification_sent_at).astimezone(tz).date() + timedelta(
        days=rule.retrieval_deadline_days)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
