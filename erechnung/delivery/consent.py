"""Whether a notice may travel on an electronic channel: the consent model of its legal basis in force on the
planned posting day (``consent.toml``), applied to what the register records (consents and objections, dated).

    rules = ConsentRules.load()                     # erechnung/config/consent.toml, or a path
    decision = rules.decide("ozg_9", recipient, posting_day, channel="bundid", land="NW")
    decision.allowed, decision.reason               # reason: German, for the route explanation

The models (``ConsentModel``):

* ``explicit``: a consent (``Recipient.consents``) recorded on or before the posting day (an undated one counts:
  it stood in the register before the notice was planned) and not objected to since (§ 41 Abs. 2a VwVfG, § 122a
  AO until 2026-12-31, Art. 24 BayDiG);
* ``presumed``: allowed unless an objection (``Recipient.opt_outs``) covering the channel is recorded on or before
  the posting day, or undated (§ 9 Abs. 1 S. 2 OZG; § 122a Abs. 1 S. 2, Abs. 2 AO from 2027-01-01);
* ``none``: no consent needed (post).

An objection on the posting day itself counts (the safe side: post). Under ``explicit``, when both a consent and an
objection count, the later declaration decides; same day or an undated one: the objection. The posting day is
always passed in: the model in force is the one of that day, never of today.

Domain code: no I/O beyond reading the TOML file.
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from erechnung.errors import ErechnungError
from erechnung.model.codes import LANDS
from erechnung.model.recipients import Consent, OptOut, Recipient

from .texts import CONSENT

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "config" / "consent.toml"


class ConsentModel(StrEnum):
    EXPLICIT = "explicit"  # a recorded consent is needed
    PRESUMED = "presumed"  # allowed unless an objection is recorded
    NONE = "none"  # no consent needed


class ConsentRuleError(ErechnungError):
    """``consent.toml`` is wrong: what, where, how to fix (German, for the administrator who edits it)."""

    def __init__(self, path: str, where: str, problem: str, fix: str) -> None:
        self.path, self.where, self.problem, self.fix = path, where, problem, fix
        super().__init__(f"{path}, {where}: {problem} - {fix}")


@dataclass(frozen=True)
class Period:
    """One consent model of a legal basis, in force from ``since`` to the next period."""

    since: date
    model: ConsentModel
    paragraph: str
    text: str
    source: str
    consent: Consent = Consent.NOTICE_RETRIEVAL


@dataclass(frozen=True)
class ConsentDecision:
    """Whether a notice under ``basis`` may take the channel on ``day``, under which provision, and why not."""

    allowed: bool
    basis: str
    day: date
    period: Period
    rule_of: str  # "default" (federal), "Land BY", or "consent.toml [default]"
    reason: str | None = None  # German, for ``Skipped.reason`` when not allowed


_PERIOD_KEYS = {"from", "model", "paragraph", "text", "source", "consent"}
_BASIS_KEYS = {"periods", "land"}


def _periods(path: str, where: str, entries: Any) -> tuple[Period, ...]:
    if not isinstance(entries, list) or not entries:
        raise ConsentRuleError(path, where, "keine Zeiträume", "geben Sie mindestens einen [[...periods]]-Eintrag an")
    out = []
    for i, entry in enumerate(entries, 1):
        at = f"{where}.periods[{i}]"
        if not isinstance(entry, dict):
            raise ConsentRuleError(path, at, "kein Eintrag", "schreiben Sie [[...periods]] mit from, model, ...")
        unknown = set(entry) - _PERIOD_KEYS
        if unknown:
            raise ConsentRuleError(path, at, f"unbekannte Schlüssel {', '.join(sorted(unknown))}",
                                   f"erlaubt: {', '.join(sorted(_PERIOD_KEYS))}")
        since = entry.get("from")
        if not isinstance(since, date) or hasattr(since, "hour"):
            raise ConsentRuleError(path, at, f"from ist kein Datum ({since!r})",
                                   "schreiben Sie ein TOML-Datum ohne Anführungszeichen, z. B. from = 2027-01-01")
        try:
            model = ConsentModel(entry.get("model"))
        except ValueError:
            raise ConsentRuleError(path, at, f"model {entry.get('model')!r} ist unbekannt",
                                   "erlaubt: " + ", ".join(m.value for m in ConsentModel)) from None
        for key in ("paragraph", "text", "source"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConsentRuleError(path, at, f"{key} fehlt", f"tragen Sie {key} ein (Vorschrift, Inhalt, Quelle)")
        try:
            consent = Consent(entry.get("consent", Consent.NOTICE_RETRIEVAL.value))
        except ValueError:
            raise ConsentRuleError(path, at, f"consent {entry.get('consent')!r} ist unbekannt",
                                   "erlaubt: " + ", ".join(c.value for c in Consent)) from None
        out.append(Period(since, model, entry["paragraph"].strip(), entry["text"].strip(), entry["source"].strip(),
                          consent))
    days = [p.since for p in out]
    if len(set(days)) != len(days):
        raise ConsentRuleError(path, where, "zwei Zeiträume beginnen am selben Tag",
                               "jeder from-Tag darf nur einmal vorkommen")
    return tuple(sorted(out, key=lambda p: p.since))


@dataclass(frozen=True)
class ConsentRules:
    """The parsed ``consent.toml`` (see its header): periods per basis, per Land, and the default."""

    version: str
    sha256: str
    path: str
    default: Period
    bases: Mapping[str, tuple[Period, ...]]
    lands: Mapping[tuple[str, str], tuple[Period, ...]]  # (basis, Land) -> periods

    @classmethod
    def load(cls, path: str | Path | None = None) -> ConsentRules:
        return _load(str(Path(path or DEFAULT_PATH).resolve()))

    @classmethod
    def from_text(cls, text: str, path: str = "<text>") -> ConsentRules:
        """Parse and check everything now (not at the first notice); ``ConsentRuleError`` names the place."""
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConsentRuleError(path, "Datei", f"kein gültiges TOML: {exc}",
                                   "prüfen Sie die Syntax (Anführungszeichen, Klammern)") from None
        unknown = set(raw) - {"version", "default", "bases"}
        if unknown:
            raise ConsentRuleError(path, "oberste Ebene", f"unbekannte Schlüssel {', '.join(sorted(unknown))}",
                                   "erlaubt: version, [default], [bases.<Rechtsgrundlage>]")
        if not isinstance(raw.get("default"), dict):
            raise ConsentRuleError(path, "[default]", "fehlt", "geben Sie [default] mit model = \"explicit\" an")
        default = _periods(path, "[default]", [{"from": date.min, **raw["default"]}])[0]
        bases: dict[str, tuple[Period, ...]] = {}
        lands: dict[tuple[str, str], tuple[Period, ...]] = {}
        for basis, entry in raw.get("bases", {}).items():
            where = f"[bases.{basis}]"
            if not isinstance(entry, dict) or set(entry) - _BASIS_KEYS:
                raise ConsentRuleError(path, where, "unbekannte Schlüssel", "erlaubt: periods, land.<Land>")
            bases[basis] = _periods(path, where, entry.get("periods"))
            for land, override in entry.get("land", {}).items():
                lwhere = f"[bases.{basis}.land.{land}]"
                if land not in LANDS:
                    raise ConsentRuleError(path, lwhere, f"{land!r} ist kein Länderkürzel",
                                           "erlaubt: " + " ".join(LANDS))
                if not isinstance(override, dict) or set(override) != {"periods"}:
                    raise ConsentRuleError(path, lwhere, "ein Land überschreibt nur periods",
                                           "schreiben Sie [[bases.<Grundlage>.land.<Land>.periods]]")
                lands[(basis, land)] = _periods(path, lwhere, override["periods"])
        return cls(str(raw.get("version", "")), hashlib.sha256(text.encode()).hexdigest(), path, default, bases,
                   lands)

    def in_force(self, basis: str, day: date, land: str | None = None) -> tuple[Period, str]:
        """The period of ``basis`` in force on ``day`` in ``land`` and whose rule it is (``default``, ``Land BY``,
        ``consent.toml [default]`` for an unknown basis or a day before its first period)."""
        land = land.upper() if land else None
        if land is not None and (basis, land) in self.lands:
            periods, rule_of = self.lands[(basis, land)], f"Land {land}"
        elif basis in self.bases:
            periods, rule_of = self.bases[basis], "default"
        else:
            return self.default, "consent.toml [default]"
        current = [p for p in periods if p.since <= day]
        return (current[-1], rule_of) if current else (self.default, "consent.toml [default]")

    def decide(self, basis: str, recipient: Recipient, day: date, *, channel: str,
               land: str | None = None) -> ConsentDecision:
        """May a notice under ``basis``, posted on ``day``, go to ``recipient`` on ``channel``? (module docstring)"""
        period, rule_of = self.in_force(basis, day, land)
        opted_out = _objection(recipient, channel, day)
        reason = None
        if period.model is ConsentModel.PRESUMED and opted_out is not None:
            reason = CONSENT["opted_out"].format(paragraph=period.paragraph, since=_day(opted_out))
        elif period.model is ConsentModel.EXPLICIT:
            given = recipient.consent_date or date.min
            if period.consent not in recipient.consents:
                reason = CONSENT["needs_consent"].format(paragraph=period.paragraph, consent=period.consent.value)
            elif given > day:
                reason = CONSENT["consent_later"].format(paragraph=period.paragraph, consent=period.consent.value,
                                                         given=_day(given), day=_day(day))
            elif opted_out is not None and (opted_out == date.min or given == date.min or opted_out >= given):
                reason = CONSENT["withdrawn"].format(paragraph=period.paragraph, since=_day(opted_out))
        return ConsentDecision(reason is None, basis, day, period, rule_of, reason)


def _objection(recipient: Recipient, channel: str, day: date) -> date | None:
    """The day of the recipient's objection covering ``channel`` that counts on ``day`` (``date.min``: undated),
    or None."""
    covers = {OptOut.NOTICE_RETRIEVAL.value, channel}
    if not any(o.value in covers for o in recipient.opt_outs):
        return None
    since = recipient.opt_out_date or date.min
    return since if since <= day else None


def _day(day: date) -> str:
    return CONSENT["undated"] if day == date.min else day.strftime("%d.%m.%Y")


@lru_cache(maxsize=8)
def _load(path: str) -> ConsentRules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConsentRuleError(path, "Datei", f"nicht lesbar: {exc.strerror or exc}",
                               "prüfen Sie den Pfad der Einwilligungsregeln") from None
    return ConsentRules.from_text(text, path)
