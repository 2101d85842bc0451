"""The dunning run against the books (issue 15): the steps ``payments.dunning.dunning_plan`` gives for the open
items on a day (the Land's Mahngebühren, Säumniszuschläge per § 240 AO), listed (``dry_run``) or recorded: each
step once per (item, level) in ``dunning_steps`` with the inputs of its computation, the item's dunning level
raised and its state ``in_dunning``.

With a configuration, the steps recorded now are handed to the dunning department as a batch of letters
(``letters.write_letters``); the pipeline makes them notices in the municipality's design and delivers them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from ..model.amounts import de_amount
from ..model.receivables import ItemState
from ..payments.dunning import DunningRules, DunningStep, dunning_plan
from ..state import receivables as books
from ..state.db import transaction
from ..state.receivables_schema import DunningStepRow, OpenItemRow
from .letters import write_letters

__all__ = ["DunningReport", "dunning_run"]

DUNNABLE = (ItemState.OPEN, ItemState.PARTIALLY_PAID, ItemState.IN_DUNNING)


@dataclass
class DunningReport:
    on: date
    dry_run: bool
    steps: list[DunningStep] = field(default_factory=list)
    recorded: int = 0  # steps written (0 on a dry run; a step recorded before is not written again)
    letters: str | None = None  # the batch of dunning letters written to the dunning department's drop zone

    def lines(self) -> list[str]:
        """For the clerk: one line per step, then the total."""
        out = [f"{s.item.kassenzeichen} ({s.item.debtor_name or s.item.debtor_ref}): {s.stage}, offen "
               f"{_euro(s.open_amount)}, Gebühr {_euro(s.fee)}, Säumniszuschlag {_euro(s.surcharge)}, zusammen "
               f"{_euro(s.total_due)}" for s in self.steps]
        total = sum((s.total_due for s in self.steps), Decimal("0"))
        what = "würden gemahnt (Probelauf, nichts gespeichert)" if self.dry_run else f"gemahnt ({self.recorded} neu)"
        if self.letters:
            out.append(f"Mahnschreiben übergeben als {self.letters}")
        out.append(f"{len(self.steps)} Posten {what} am {self.on:%d.%m.%Y}, zusammen {_euro(total)}")
        return out


def _euro(amount: Decimal) -> str:
    return f"{de_amount(amount)} EUR"


def dunning_run(engine: Engine, *, on: date, land: str, rules: DunningRules | None = None, dry_run: bool = True,
                by: str = "automatisch", now: datetime | None = None, config: Any = None) -> DunningReport:
    """Plan the dunning steps due on ``on`` and, unless ``dry_run``, record them (once per item and level);
    with ``config``, the steps recorded now go as a batch of letters to the dunning department's drop zone."""
    rules = rules or DunningRules.load()
    report = DunningReport(on, dry_run)
    new: list[DunningStep] = []
    with transaction(engine) as s:
        items = books.list_items(s, states=DUNNABLE)
        levels = dict(s.execute(select(OpenItemRow.id, OpenItemRow.dunning_level)
                                .where(OpenItemRow.id.in_([i.item_id for i in items]))).all()) if items else {}
        report.steps = dunning_plan(items, on=on, land=land, rules=rules, levels=levels)
        if dry_run:
            return report
        at = now or datetime.now(timezone.utc)
        for step in report.steps:
            done = s.execute(select(DunningStepRow.id).where(DunningStepRow.item_id == step.item.item_id,
                                                             DunningStepRow.level == step.level)).first()
            if done is not None:
                continue
            s.add(DunningStepRow(item_id=step.item.item_id, level=step.level, stage=step.stage, on=on,
                                 fee_cents=books.cents(step.fee), surcharge_cents=books.cents(step.surcharge),
                                 total_cents=books.cents(step.total_due), inputs=step.inputs(), created_by=by,
                                 created_at=at))
            row = s.get(OpenItemRow, step.item.item_id)
            row.dunning_level = max(row.dunning_level, step.level)
            books.restate(row)
            report.recorded += 1
            new.append(step)
    if config is not None and new:
        report.letters = write_letters(config, new, on=on)
    return report
