"""Dunning rules without I/O (issue 15): which open items get which dunning stage on a day, with the Land's
Mahngebühr and, for taxes and levies, the Säumniszuschlag of § 240 AO, each with the inputs it was computed from.

    rules = DunningRules.load()                   # erechnung/config/dunning.toml, or a path
    steps = dunning_plan(items, on=date(2026, 5, 20), land="BW", rules=rules, levels={item_id: 1})
    steps[0].fee, steps[0].surcharge, steps[0].why

The Säumniszuschlag (§ 240 Abs. 1 Satz 1 AO): 1 % of the overdue amount rounded down to the nearest full 50 EUR,
for each started month of Säumnis. Säumnis begins when the due date has ended; a month of Säumnis is counted
like a period of one month from the due date (§ 108 Abs. 1 AO, §§ 187 Abs. 1, 188 Abs. 2 and 3 BGB): due on
15.02. the first month runs 16.02.-15.03., the second 16.03.-15.04.; due on 31.01. the first ends on 28.02. (29.02.
in a leap year), the second on 31.03. None is charged while the Säumnis is three days or less (§ 240 Abs. 3 AO,
the Schonfrist for transfers). Simplifications, stated in every step's ``why``: the base is the amount open on
``on`` (partial payments during the Säumnis are not split into periods), and the due date is not moved off a
weekend or holiday.

Items disputed, deferred (Stundung) until a day on or after ``on``, paid, written off or not yet due get no step;
after a Stundung the stages and the Säumnis count from its end.
"""
from __future__ import annotations

import calendar
import hashlib
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from erechnung import config as _config_package
from erechnung.errors import ErechnungError
from erechnung.model.amounts import de_amount
from erechnung.model.codes import LANDS
from erechnung.model.receivables import ItemState, OpenItem

__all__ = ["DEFAULT_RULES", "DunningRuleError", "DunningRules", "DunningStep", "FeeRule", "Stage", "Surcharge",
           "SurchargeRule", "add_months", "dunning_plan", "mahngebuehr", "months_of_saeumnis", "saeumniszuschlag"]

DEFAULT_RULES = Path(_config_package.__file__).resolve().with_name("dunning.toml")
CENT = Decimal("0.01")


class DunningRuleError(ErechnungError):
    """The dunning configuration is wrong or does not cover a case (bad key, unknown Land, gaps in the stages)."""


@dataclass(frozen=True)
class Stage:
    level: int
    name: str
    fee: bool
    days_after_due: int


@dataclass(frozen=True)
class FeeRule:
    """The Mahngebühr of one Land (or the default)."""

    land: str  # "BW" ... or "default"
    title: str
    kind: Literal["percent", "table"]
    percent: Decimal = Decimal("0")
    minimum: Decimal = Decimal("0")
    maximum: Decimal | None = None
    round_up_to_euro: bool = False
    brackets: tuple[tuple[Decimal | None, Decimal], ...] = ()  # (up to, fee); None: the rest
    source: str = ""
    as_of: date | None = None
    confirmed: bool = False

    def fee_for(self, amount: Decimal) -> Decimal:
        """The fee for dunning ``amount`` EUR."""
        return mahngebuehr(self, amount)


@dataclass(frozen=True)
class SurchargeRule:
    title: str
    percent_per_month: Decimal
    round_down_to: Decimal
    grace_days: int
    source: str = ""


@dataclass(frozen=True)
class DunningRules:
    """The parsed ``dunning.toml`` (its header says the format)."""

    stages: tuple[Stage, ...]
    fees: Mapping[str, FeeRule]
    surcharge: SurchargeRule
    version: str
    sha256: str
    path: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> DunningRules:
        return _load(str(Path(path or DEFAULT_RULES).resolve()))

    @classmethod
    def from_text(cls, text: str, path: str = "<text>") -> DunningRules:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DunningRuleError(f"{path}: not valid TOML: {exc} (check the line named)") from None
        unknown = set(raw) - {"version", "stages", "surcharge", "fees"}
        if unknown:
            raise DunningRuleError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (known: version, stages, "
                                   "surcharge, fees)")
        return cls(stages=_stages(raw.get("stages", []), path), fees=_fees(raw.get("fees", {}), path),
                   surcharge=_surcharge(raw.get("surcharge"), path), version=str(raw.get("version", "")),
                   sha256=hashlib.sha256(text.encode()).hexdigest(), path=path, raw=raw)

    def fee_rule(self, land: str) -> FeeRule:
        """The Mahngebühr rule of ``land``, else the default entry."""
        code = land.upper()
        if code not in LANDS:
            raise DunningRuleError(f"{land!r} is not a German Land code (one of {' '.join(LANDS)})")
        rule = self.fees.get(code) or self.fees.get("default")
        if rule is None:
            raise DunningRuleError(f"{self.path}: no [fees.{code}] and no [fees.default]: add the Land's Mahngebühr")
        return rule

    def stage(self, level: int) -> Stage | None:
        return next((s for s in self.stages if s.level == level), None)


@lru_cache(maxsize=8)
def _load(path: str) -> DunningRules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DunningRuleError(f"cannot read the dunning rules {path}: {exc.strerror or exc}") from None
    return DunningRules.from_text(text, path)


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DunningRuleError(f"{where} must be a number, not {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise DunningRuleError(f"{where} must be a number, not {value!r}") from None


def _stages(entries: Any, path: str) -> tuple[Stage, ...]:
    if not isinstance(entries, list) or not entries:
        raise DunningRuleError(f"{path}: no [[stages]]: give at least the Zahlungserinnerung (level 1)")
    stages = []
    for i, e in enumerate(entries):
        where = f"{path}: stages[{i}]"
        unknown = set(e) - {"level", "name", "fee", "days_after_due"}
        if unknown:
            raise DunningRuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            stages.append(Stage(int(e["level"]), str(e["name"]), bool(e.get("fee", False)), int(e["days_after_due"])))
        except KeyError as exc:
            raise DunningRuleError(f"{where}: {exc.args[0]} is missing") from None
    stages.sort(key=lambda s: s.level)
    if [s.level for s in stages] != list(range(1, len(stages) + 1)):
        raise DunningRuleError(f"{path}: the stage levels must be 1, 2, 3 ... without gaps, not "
                               f"{[s.level for s in stages]}")
    days = [s.days_after_due for s in stages]
    if days != sorted(days) or len(set(days)) != len(days) or days[0] < 1:
        raise DunningRuleError(f"{path}: days_after_due must rise from stage to stage and start at 1 or later, "
                               f"not {days}")
    return tuple(stages)


def _fees(entries: Mapping[str, Any], path: str) -> dict[str, FeeRule]:
    out: dict[str, FeeRule] = {}
    keys = {"title", "kind", "percent", "minimum", "maximum", "round_up_to_euro", "brackets", "source", "as_of",
            "confirmed"}
    for land, e in entries.items():
        where = f"{path}: fees.{land}"
        if land != "default" and land not in LANDS:
            raise DunningRuleError(f"{where}: {land!r} is not a German Land code (one of {' '.join(LANDS)})")
        unknown = set(e) - keys
        if unknown:
            raise DunningRuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        kind = e.get("kind")
        common = dict(land=land, title=str(e.get("title", land)), source=str(e.get("source", "")),
                      as_of=e.get("as_of"), confirmed=bool(e.get("confirmed", False)))
        if kind == "percent":
            if "percent" not in e:
                raise DunningRuleError(f"{where}: kind = \"percent\" needs percent")
            out[land] = FeeRule(kind="percent", percent=_dec(e["percent"], f"{where}.percent"),
                                minimum=_dec(e.get("minimum", 0), f"{where}.minimum"),
                                maximum=None if e.get("maximum") is None else _dec(e["maximum"], f"{where}.maximum"),
                                round_up_to_euro=bool(e.get("round_up_to_euro", False)), **common)
        elif kind == "table":
            brackets = []
            for j, b in enumerate(e.get("brackets", [])):
                up_to = b.get("up_to")
                brackets.append((None if up_to is None else _dec(up_to, f"{where}.brackets[{j}].up_to"),
                                 _dec(b.get("fee"), f"{where}.brackets[{j}].fee")))
            limits = [u for u, _ in brackets if u is not None]
            if not brackets or brackets[-1][0] is not None or limits != sorted(limits) \
                    or any(u is None for u, _ in brackets[:-1]):
                raise DunningRuleError(f"{where}.brackets: give rising up_to limits and a last bracket without "
                                       "up_to for every larger amount")
            out[land] = FeeRule(kind="table", brackets=tuple(brackets), **common)
        else:
            raise DunningRuleError(f"{where}.kind must be \"percent\" or \"table\", not {kind!r}")
    return out


def _surcharge(e: Any, path: str) -> SurchargeRule:
    if not isinstance(e, dict):
        raise DunningRuleError(f"{path}: no [surcharge] (the § 240 AO rates)")
    unknown = set(e) - {"title", "percent_per_month", "round_down_to", "grace_days", "source", "as_of"}
    if unknown:
        raise DunningRuleError(f"{path}: surcharge: unknown key(s) {', '.join(sorted(unknown))}")
    return SurchargeRule(title=str(e.get("title", "§ 240 AO")),
                         percent_per_month=_dec(e.get("percent_per_month", 1), f"{path}: surcharge.percent_per_month"),
                         round_down_to=_dec(e.get("round_down_to", 50), f"{path}: surcharge.round_down_to"),
                         grace_days=int(e.get("grace_days", 3)), source=str(e.get("source", "")))


# ============================================================================================== arithmetic


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` months; a day the month lacks becomes its last day (§ 188 Abs. 3 BGB)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_of_saeumnis(due: date, on: date) -> int:
    """The started months of Säumnis on ``on`` for an amount due on ``due`` (0 while ``on`` <= ``due``): the n-th
    month runs from the day after ``add_months(due, n - 1)`` to ``add_months(due, n)``."""
    if on <= due:
        return 0
    n = 1
    while add_months(due, n) < on:
        n += 1
    return n


@dataclass(frozen=True)
class Surcharge:
    amount: Decimal
    months: int
    base: Decimal  # the overdue amount rounded down to the nearest 50 EUR
    days_late: int


def saeumniszuschlag(rule: SurchargeRule, overdue: Decimal, due: date, on: date) -> Surcharge:
    """The Säumniszuschlag accrued by ``on`` on ``overdue`` EUR due on ``due`` (none within the Schonfrist)."""
    days_late = max((on - due).days, 0)
    base = (overdue / rule.round_down_to).to_integral_value(ROUND_DOWN) * rule.round_down_to
    months = months_of_saeumnis(due, on)
    if days_late <= rule.grace_days or base <= 0:
        return Surcharge(Decimal("0.00"), months, base, days_late)
    amount = (base * rule.percent_per_month / 100 * months).quantize(CENT, ROUND_HALF_UP)
    return Surcharge(amount, months, base, days_late)


def mahngebuehr(rule: FeeRule, amount: Decimal) -> Decimal:
    """The Mahngebühr for dunning ``amount`` EUR under ``rule``."""
    if rule.kind == "table":
        return next(fee for up_to, fee in rule.brackets if up_to is None or amount <= up_to).quantize(CENT)
    fee = amount * rule.percent / 100
    fee = max(fee, rule.minimum)
    if rule.maximum is not None:
        fee = min(fee, rule.maximum)
    if rule.round_up_to_euro:
        return fee.to_integral_value(ROUND_CEILING).quantize(CENT)
    return fee.quantize(CENT, ROUND_HALF_UP)


# ============================================================================================== the plan


@dataclass(frozen=True)
class DunningStep:
    """What the dunning run does with one item on one day: the next stage, its fee and the Säumniszuschlag."""

    item: OpenItem
    level: int  # the stage to send now
    stage: str  # its name (German)
    fee: Decimal  # Mahngebühr of this stage (0 for a Zahlungserinnerung)
    fee_rule: str  # the provision, e.g. "§ 1 Abs. 1 LVwVGKO ..."
    fee_confirmed: bool  # False: the Land's values are still "zu bestätigen" in dunning.toml
    surcharge: Decimal  # Säumniszuschläge accrued to ``on`` (0 unless taxes or levies)
    surcharge_months: int  # started months of Säumnis
    surcharge_base: Decimal  # the overdue amount rounded down to the nearest 50 EUR
    open_amount: Decimal
    total_due: Decimal  # open amount + fee + surcharge
    due_date: date  # the date the stages and the Säumnis count from (the end of a Stundung, where one was)
    on: date
    why: str  # German, for the clerk and the letter's audit trail
    rules_version: str = ""
    rules_sha256: str = ""

    def inputs(self) -> dict[str, str]:
        """What to store beside the step."""
        return {"item_id": str(self.item.item_id), "level": str(self.level), "on": self.on.isoformat(),
                "due_date": self.due_date.isoformat(), "open": str(self.open_amount), "fee": str(self.fee),
                "fee_rule": self.fee_rule, "fee_confirmed": str(self.fee_confirmed).lower(),
                "surcharge": str(self.surcharge), "surcharge_months": str(self.surcharge_months),
                "surcharge_base": str(self.surcharge_base), "rules_version": self.rules_version,
                "rules_sha256": self.rules_sha256}


def _euro(amount: Decimal) -> str:
    """1234.5 -> '1.234,50 EUR' (German notation)."""
    return f"{de_amount(amount.quantize(CENT))} EUR"


def dunning_plan(items: Sequence[OpenItem], *, on: date, land: str, rules: DunningRules,
                 levels: Mapping[int, int]) -> list[DunningStep]:
    """The dunning steps due on ``on``: for each item the next stage after its current level (``levels``: item
    id -> the last stage sent, 0 or absent: none), once that stage's ``days_after_due`` have passed."""
    fee_rule = rules.fee_rule(land)
    steps = []
    for item in items:
        if item.disputed or item.state in (ItemState.PAID, ItemState.OVERPAID, ItemState.WRITTEN_OFF):
            continue
        if item.deferred_until is not None and on <= item.deferred_until:
            continue
        open_amount = item.open
        if open_amount <= 0:
            continue
        due = max(item.due_date, item.deferred_until) if item.deferred_until else item.due_date
        current = levels.get(item.item_id, 0)
        stage = rules.stage(current + 1)
        if stage is None or (on - due).days < stage.days_after_due:
            continue
        fee = mahngebuehr(fee_rule, open_amount) if stage.fee else Decimal("0.00")
        why = [f"{stage.name}: fällig seit {due:%d.%m.%Y}, offen {_euro(open_amount)}, "
               f"{(on - due).days} Tage überfällig (Stufe {stage.level} ab {stage.days_after_due} Tagen)"]
        if item.deferred_until:
            why.append(f"nach Stundung bis {item.deferred_until:%d.%m.%Y}")
        if stage.fee:
            why.append(f"Mahngebühr {_euro(fee)} nach {fee_rule.title}"
                       + ("" if fee_rule.confirmed else " (Werte zu bestätigen)"))
        surcharge = Surcharge(Decimal("0.00"), 0, Decimal("0"), 0)
        if item.taxes_or_levies:
            surcharge = saeumniszuschlag(rules.surcharge, open_amount, due, on)
            if surcharge.amount:
                why.append(f"Säumniszuschlag {_euro(surcharge.amount)} = {rules.surcharge.percent_per_month} % "
                           f"von {_euro(surcharge.base)} (auf volle {rules.surcharge.round_down_to} EUR abgerundet) "
                           f"× {surcharge.months} angefangene Monate ({rules.surcharge.title}; Grundlage der am "
                           f"{on:%d.%m.%Y} offene Betrag)")
            elif surcharge.days_late <= rules.surcharge.grace_days:
                why.append(f"kein Säumniszuschlag: Säumnis von {surcharge.days_late} Tagen liegt in der Schonfrist "
                           f"von {rules.surcharge.grace_days} Tagen (§ 240 Abs. 3 AO)")
            else:
                why.append("kein Säumniszuschlag: rückständiger Betrag unter 50 EUR")
        steps.append(DunningStep(
            item=item, level=stage.level, stage=stage.name, fee=fee, fee_rule=fee_rule.title if stage.fee else "",
            fee_confirmed=fee_rule.confirmed or not stage.fee, surcharge=surcharge.amount,
            surcharge_months=surcharge.months, surcharge_base=surcharge.base, open_amount=open_amount,
            total_due=open_amount + fee + surcharge.amount, due_date=due, on=on, why="; ".join(why),
            rules_version=rules.version, rules_sha256=rules.sha256))
    return steps

