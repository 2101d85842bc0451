"""When a notice counts as notified (Bekanntgabe): the legal rules as configuration (``legal.toml``), per legal
basis and Land, and functions that compute the date and return it with every input it was computed from.

    rules = LegalRules.load()                      # erechnung/config/legal.toml, or a path
    rules = rules.confirming("HE", ["HE:vwvfg_41_2"])  # what the municipality confirmed ([delivery.legal])
    result = compute_notification_date(rules, "ao_122a", "NW", notification_sent_at=sent)
    result.date                                    # datetime.date
    result.inputs()                                # what to store beside it (notification_dates.inputs)

A rule holds one or more periods (:class:`Version`): the law in force from a day on. A period may change any key
of its rule (days, the start event, the weekend shift, the paragraph and its source), so a change of the law is a
new period, never an edit of the old one. The period is chosen by the day the notice left the authority (posted,
sent or provided: the earliest of these events that is known), never by today.

Days are counted on the calendar of Europe/Berlin: the start event's local day is day 0, the period ends on day
``days``. Where the rule says so, an end on a Saturday, Sunday or public holiday of the Land moves to the next
working day (§ 108 Abs. 3 AO; holidays from the ``holidays`` package, version stored with the date); the fiction
of § 41 Abs. 2 VwVfG and its Land equivalents is a point in time, not a Frist, and does not move. An earlier
first retrieval ends the period on the retrieval day (+ ``retrieval_offset_days``) where the rule says so. Under
the retrieval model (§ 41 Abs. 2a VwVfG) the notice is notified the day after retrieval; one not retrieved within
``retrieval_deadline_days`` after the notification is not notified at all (:func:`retrieval_deadline`), and
``on_deadline`` says what the delivery service does then.

Every rule and Land entry cites its paragraph (``title``), the sentence it rests on (``basis``) and where that was
read (``source``); the loader refuses one without. A Land entry whose research is open (``confirmed = false``,
``open_point``) produces no date until the municipality confirms it (:class:`UnconfirmedLegalRule`).

Domain code: no I/O beyond reading the TOML file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping
from zoneinfo import ZoneInfo

from erechnung.config.channels import LEGAL_RULES as DEFAULT_RULES
from erechnung.errors import ErechnungError
from erechnung.model.codes import LANDS

from .texts import LAND_NAMES, NOTIFICATION, START_NAMES

START_EVENTS = ("provision", "notification_sent", "retrieval")
StartEvent = Literal["provision", "notification_sent", "retrieval"]


class LegalRuleError(ErechnungError):
    """The legal configuration is wrong or does not cover a case (unknown basis, bad key, unknown Land)."""


class UnconfirmedLegalRule(LegalRuleError):
    """A Land's rule whose research is open (``confirmed = false`` in ``legal.toml``) and that the municipality
    has not confirmed in its configuration (``[delivery.legal] confirmed``): no date is computed under it and no
    notice is planned on a channel that would need it."""

    def __init__(self, basis: str, land: str, version: Version) -> None:
        self.basis, self.land, self.version = basis, land, version
        super().__init__(NOTIFICATION["unconfirmed"].format(
            title=version.title, land=LAND_NAMES.get(land, land), code=land, basis=basis,
            since=version.since.isoformat() if version.since != date.min else "–",
            open_point=version.open_point or "–", source=version.citation))


@dataclass(frozen=True)
class Version:
    """One period of a rule as in force in one Land from ``since`` on (every override applied)."""

    since: date  # date.min: no start date given ("days" without periods)
    title: str  # the paragraph, as people cite it
    start: StartEvent
    days: int
    earlier_retrieval_wins: bool
    retrieval_offset_days: int
    shift_to_working_day: bool
    retrieval_deadline_days: int | None
    on_deadline: Literal["fall_back", "resend"]
    basis_text: str  # the sentence of the law the period rests on (TOML ``basis``)
    citation: str  # where it was read: URL, gazette (TOML ``source``)
    confirmed: bool
    open_point: str | None


@dataclass(frozen=True)
class Rule:
    """One legal basis as in force for one Land (the Land's overrides applied): the rule's own keys (as before
    periods could change them) and its periods (:attr:`versions`, oldest first)."""

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
    versions: tuple[Version, ...] = ()

    def days_on(self, day: date) -> tuple[int, date]:
        """The period in force on ``day`` and since when."""
        v = self.version_on(day)
        return v.days, v.since

    def version_on(self, day: date) -> Version:
        """The period in force on ``day`` (the latest ``from`` on or before it)."""
        in_force = [v for v in self.versions if v.since <= day]
        if not in_force:
            raise LegalRuleError(f"{self.basis}: no period in force on {day.isoformat()} (check 'periods')")
        return in_force[-1]


#: Keys a rule, a Land entry or a period may set.
_VERSION_KEYS = {"title", "start", "days", "earlier_retrieval_wins", "retrieval_offset_days",
                 "shift_to_working_day", "retrieval_deadline_days", "on_deadline", "basis", "source", "confirmed",
                 "open_point"}
_RULE_KEYS = _VERSION_KEYS | {"periods", "requires_consent", "land"}
#: What every rule and Land entry must cite (after its periods are applied): paragraph, sentence, source.
_CITATION_KEYS = ("title", "basis", "source")


@dataclass(frozen=True)
class LegalRules:
    """The parsed ``legal.toml`` (see the file's header for the format), with the Land rules the municipality
    confirmed in its configuration (:meth:`confirming`)."""

    raw: Mapping[str, Any] = field(repr=False)
    sha256: str
    path: str
    time_zone: str = "Europe/Berlin"
    confirmed: frozenset[tuple[str, str]] = frozenset()  # (Land, basis) confirmed by the configuration

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

    def confirming(self, land: str | None, codes: Iterable[str]) -> LegalRules:
        """These rules with the municipality's confirmations added to any they hold (``[delivery.legal]
        confirmed``: ``"HE:vwvfg_41_2"``, the Land's code and the rule's name): each must name a Land and a rule
        of this file; one of another Land than ``land`` (a configuration copied from elsewhere) confirms
        nothing."""
        pairs = set()
        for code in codes:
            code_land, _, basis = str(code).partition(":")
            if not basis or code_land not in LANDS:
                raise LegalRuleError(NOTIFICATION["confirm_format"].format(code=code))
            if basis not in self.bases:
                raise LegalRuleError(NOTIFICATION["confirm_unknown"].format(code=code, bases=", ".join(self.bases)))
            if code_land == (land or "").upper():
                pairs.add((code_land, basis))
        return dataclasses.replace(self, confirmed=self.confirmed | pairs)

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
        base = dict(entries[basis])
        override: dict[str, Any] = {}
        source = "default"
        if land is not None:
            land = land.upper()
            if land not in LANDS:
                raise LegalRuleError(f"{land!r} is not a German Land code (one of {' '.join(LANDS)})")
            override = dict(base.get("land", {}).get(land) or {})
            if override:
                source = f"Land {land}"
                unknown = set(override) - (_RULE_KEYS - {"land"})
                if unknown:
                    raise LegalRuleError(f"rules.{basis}.land.{land}: unknown key(s) {', '.join(sorted(unknown))}")
                missing = [k for k in _CITATION_KEYS if not str(override.get(k, "")).strip()]
                if missing:
                    raise LegalRuleError(f"rules.{basis}.land.{land}: every Land entry cites its paragraph, the "
                                         f"sentence it rests on and where that was read: give "
                                         f"{', '.join(missing)}")
        where = f"rules.{basis}" + (f".land.{land}" if override else "")
        unknown = set(base) - _RULE_KEYS
        if unknown:
            raise LegalRuleError(f"rules.{basis}: unknown key(s) {', '.join(sorted(unknown))}")
        top = {k: v for k, v in base.items() if k not in ("land", "periods", "days")}
        top.update({k: v for k, v in override.items() if k not in ("periods", "days")})
        # the periods: the Land's own (``days`` = one period without a start date), else the rule's
        owner = override if ("periods" in override or "days" in override) else base
        if "periods" in owner:
            periods = owner["periods"]
            if not isinstance(periods, list) or not periods:
                raise LegalRuleError(f"{where}.periods: give a list of {{ from = 2025-01-01, days = 4 }}")
        elif "days" in owner:
            periods = [{"from": date.min, "days": owner["days"]}]
        else:
            raise LegalRuleError(f"rules.{basis}: give 'days' or 'periods'")
        versions = []
        for p in periods:
            if not isinstance(p.get("from"), date) or isinstance(p.get("from"), datetime):
                raise LegalRuleError(f"{where}.periods: 'from' must be a TOML date (2025-01-01)")
            unknown = set(p) - _VERSION_KEYS - {"from"}
            if unknown:
                raise LegalRuleError(f"{where}.periods (from {p['from']}): unknown key(s) "
                                     f"{', '.join(sorted(unknown))}")
            merged = dict(top)
            if owner is base and override:  # the rule's periods under a Land entry: the Land's keys win
                merged.update({k: v for k, v in p.items() if k not in override})
            else:
                merged.update(p)
            versions.append(self._version(basis, where, p["from"], merged))
        versions.sort(key=lambda v: v.since)
        if len({v.since for v in versions}) != len(versions):
            raise LegalRuleError(f"{where}.periods: two periods start on the same day")
        latest = versions[-1]
        deadline = top.get("retrieval_deadline_days", latest.retrieval_deadline_days)
        return Rule(basis=basis, title=str(top.get("title", latest.title)), start=top.get("start", latest.start),
                    periods=tuple((v.since, v.days) for v in versions),
                    earlier_retrieval_wins=bool(top.get("earlier_retrieval_wins", latest.earlier_retrieval_wins)),
                    retrieval_offset_days=int(top.get("retrieval_offset_days", latest.retrieval_offset_days)),
                    shift_to_working_day=bool(top.get("shift_to_working_day", latest.shift_to_working_day)),
                    retrieval_deadline_days=None if deadline is None else int(deadline),
                    on_deadline=top.get("on_deadline", latest.on_deadline),
                    requires_consent=tuple(top.get("requires_consent", ())), source=source,
                    versions=tuple(versions))

    def _version(self, basis: str, where: str, since: date, entry: Mapping[str, Any]) -> Version:
        start = entry.get("start")
        if start not in START_EVENTS:
            raise LegalRuleError(f"rules.{basis}.start must be one of {', '.join(START_EVENTS)}, not {start!r}")
        if "days" not in entry:
            raise LegalRuleError(f"rules.{basis}: give 'days' or 'periods'")
        on_deadline = entry.get("on_deadline", "fall_back")
        if on_deadline not in ("fall_back", "resend"):
            raise LegalRuleError(f"rules.{basis}.on_deadline must be fall_back or resend, not {on_deadline!r}")
        missing = [k for k in _CITATION_KEYS if not str(entry.get(k, "")).strip()]
        if missing:
            raise LegalRuleError(f"{where}: a rule without {' and '.join(missing)} is refused: give the paragraph "
                                 f"(title), the sentence of the law it rests on (basis) and where that was read "
                                 f"(source)")
        confirmed = entry.get("confirmed", True)
        if not isinstance(confirmed, bool):
            raise LegalRuleError(f"{where}.confirmed must be true or false")
        open_point = entry.get("open_point")
        if not confirmed and not str(open_point or "").strip():
            raise LegalRuleError(f"{where}: confirmed = false needs an open_point (what is uncertain)")
        deadline = entry.get("retrieval_deadline_days")
        return Version(since=since, title=str(entry["title"]), start=start, days=int(entry["days"]),
                       earlier_retrieval_wins=bool(entry.get("earlier_retrieval_wins", False)),
                       retrieval_offset_days=int(entry.get("retrieval_offset_days", 0)),
                       shift_to_working_day=bool(entry.get("shift_to_working_day", False)),
                       retrieval_deadline_days=None if deadline is None else int(deadline),
                       on_deadline=on_deadline, basis_text=str(entry["basis"]), citation=str(entry["source"]),
                       confirmed=confirmed, open_point=None if confirmed else str(open_point))

    def require_confirmed(self, rule: Rule, version: Version, land: str | None) -> bool:
        """Raise :class:`UnconfirmedLegalRule` for an open period the configuration did not confirm; True when
        the configuration's confirmation is what lets it apply."""
        if version.confirmed:
            return False
        if land is not None and (land.upper(), rule.basis) in self.confirmed:
            return True
        raise UnconfirmedLegalRule(rule.basis, (land or "").upper(), version)

    def unconfirmed(self, basis: str, land: str | None, on: date) -> UnconfirmedLegalRule | None:
        """Why a notice given out on ``on`` or later may not travel under ``basis`` in ``land`` (the first open
        period in force then or later that the configuration did not confirm), or None: what planning asks."""
        rule = self.rule(basis, land)
        current = [v for v in rule.versions if v.since <= on][-1:]
        for v in current + [v for v in rule.versions if v.since > on]:
            try:
                self.require_confirmed(rule, v, land)
            except UnconfirmedLegalRule as exc:
                return exc
        return None

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
    basis_text: str = ""  # the sentence of the law the period rests on
    citation: str = ""  # where it was read (legal.toml ``source``)
    period_chosen_by: str = ""  # the event whose day chose the period in force
    confirmed_by_configuration: str | None = None  # "HE:vwvfg_41_2": an open rule the municipality confirmed

    def inputs(self) -> dict[str, Any]:
        """The inputs as JSON (stored beside the date in ``notification_dates.inputs``)."""

        def iso(v: datetime | date | None) -> str | None:
            return None if v is None else v.isoformat()

        return {"legal_basis": self.basis, "title": self.title, "land": self.land, "rule_source": self.rule_source,
                "basis_text": self.basis_text, "citation": self.citation, "period_chosen_by": self.period_chosen_by,
                "confirmed_by_configuration": self.confirmed_by_configuration,
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


def _given_out(times: Mapping[str, datetime | None]) -> tuple[str, datetime] | None:
    """The event whose day chooses the period in force: the day the notice left the authority (the earliest
    known of posting/sending and provision; only a retrieval known: the retrieval), never today."""
    known = [(at, event) for event, at in times.items() if at is not None and event != "retrieval"]
    if known:
        at, event = min(known)
        return event, at
    return ("retrieval", times["retrieval"]) if times["retrieval"] is not None else None


def compute_notification_date(rules: LegalRules, basis: str, land: str | None, *,
                              provision_at: datetime | None = None, notification_sent_at: datetime | None = None,
                              retrieved_at: datetime | None = None) -> NotificationResult | None:
    """The day the notice counts as notified under ``basis`` in ``land``, with its inputs; None while the event
    that starts the period has not happened (and no earlier retrieval ended it). Raises
    :class:`UnconfirmedLegalRule` rather than compute a date under a Land rule whose research is open and that
    the configuration did not confirm."""
    rule = rules.rule(basis, land)
    tz = ZoneInfo(rules.time_zone)
    times = {"provision": _aware("provision_at", provision_at),
             "notification_sent": _aware("notification_sent_at", notification_sent_at),
             "retrieval": _aware("retrieved_at", retrieved_at)}
    chooser = _given_out(times)
    if chooser is None:
        return None
    version = rule.version_on(chooser[1].astimezone(tz).date())
    confirmed_by = f"{land.upper()}:{basis}" if rules.require_confirmed(rule, version, land) else None
    start_at = times[version.start]
    retrieval_day = retrieved_at.astimezone(tz).date() if retrieved_at is not None else None
    if start_at is None and not (version.earlier_retrieval_wins and retrieved_at is not None):
        return None
    calendar = HolidayCalendar(land.upper() if land else None, rules.extra_holidays(land))
    lines: list[str] = []
    shifted: list[str] = []
    since: date | None
    if start_at is not None:
        start_day = start_at.astimezone(tz).date()
        days, since = version.days, version.since
        end = start_day + timedelta(days=days)
        period_end = end
        lines.append(NOTIFICATION["period"].format(
            title=version.title, start=START_NAMES.get(version.start, version.start), day=start_day.isoformat(),
            time=start_at.astimezone(tz).strftime('%H:%M'), zone=rules.time_zone, days=days, end=end.isoformat(),
            weekday=_WEEKDAYS[end.weekday()]))
        if version.shift_to_working_day:
            while not calendar.working_day(end):
                shifted.append(f"{end.isoformat()} {calendar.holiday(end) or _WEEKDAYS[end.weekday()]}")
                end += timedelta(days=1)
            if shifted:
                lines.append(NOTIFICATION["shifted"].format(end=end.isoformat(), weekday=_WEEKDAYS[end.weekday()],
                                                            skipped=", ".join(shifted), calendar=calendar.name))
        result: date | None = end
    else:  # only an earlier retrieval is known: it decides
        start_day, days, since, period_end, result = retrieval_day, 0, None, retrieval_day, None
    if version.earlier_retrieval_wins and retrieval_day is not None:
        by_retrieval = retrieval_day + timedelta(days=version.retrieval_offset_days)
        if result is None or by_retrieval < result:
            lines.append(NOTIFICATION["retrieval"].format(day=retrieval_day.isoformat(),
                                                          date=by_retrieval.isoformat()))
            result = by_retrieval
    assert result is not None and start_day is not None
    tag = NOTIFICATION["default_rule"] if rule.source == "default" else NOTIFICATION["land_rule"].format(
        source=rule.source)
    if confirmed_by:
        tag += NOTIFICATION["confirmed_by_configuration"].format(code=confirmed_by)
    return NotificationResult(
        basis=basis, title=version.title, land=calendar.land, rule_source=rule.source,
        start_event=version.start, start_at=start_at or retrieved_at,  # type: ignore[arg-type]
        start_day=start_day, days=days, days_in_force_since=None if since in (None, date.min) else since,
        period_end=period_end, shifted_for=tuple(shifted), retrieval_day=retrieval_day, date=result,
        earlier_retrieval_wins=version.earlier_retrieval_wins, shift_to_working_day=version.shift_to_working_day,
        calendar=calendar.name, calendar_version=calendar.version, rules_sha256=rules.sha256,
        rules_version=rules.version, provision_at=provision_at, notification_sent_at=notification_sent_at,
        retrieved_at=retrieved_at, explanation="; ".join(lines) + " [" + tag + "]",
        basis_text=version.basis_text, citation=version.citation, period_chosen_by=chooser[0],
        confirmed_by_configuration=confirmed_by)


def retrieval_deadline(rules: LegalRules, basis: str, land: str | None,
                       notification_sent_at: datetime | None) -> datetime | None:
    """The instant after which a notice not yet retrieved counts as not notified (the end of the last day of
    ``retrieval_deadline_days`` after the notification's local day, under the period in force on that day);
    None when the rule has no deadline. An open Land rule the configuration did not confirm raises
    :class:`UnconfirmedLegalRule`, as for the date itself."""
    rule = rules.rule(basis, land)
    if notification_sent_at is None:
        return None
    tz = ZoneInfo(rules.time_zone)
    sent_day = _aware("notification_sent_at", notification_sent_at).astimezone(tz).date()
    version = rule.version_on(sent_day)
    if version.retrieval_deadline_days is None:
        return None
    rules.require_confirmed(rule, version, land)
    last_day = sent_day + timedelta(days=version.retrieval_deadline_days)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
