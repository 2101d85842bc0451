"""Dunning letters (issue 15): the steps a dunning run recorded, written as a batch (JSON lines, one record per
step) into the drop zone of the department that issues them (``[stadtkasse] dunning_department``). The next
pipeline run maps them (``examples/mappings/mahnwesen.toml``) to notices of the kind ``mahnung``, renders them in
the municipality's design, archives and delivers them like any notice.

The batch is named per run day (``mahnlauf-YYYY-MM-DD-<hash>.jsonl``); each record's number is
``<Kassenzeichen>-M<level>``, the identity the profile recognises, so a step delivered twice is issued once.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..payments.dunning import DunningStep

__all__ = ["LetterError", "PAYMENT_DAYS", "letter_records", "batch_name", "batch_bytes", "write_letters"]

#: Days from the run to the new payment date printed in the letter.
PAYMENT_DAYS = 7


class LetterError(Exception):
    """The dunning letters cannot be handed over (no such department, or its drop zone refuses the batch)."""


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def _positions(step: DunningStep) -> list[dict[str, str]]:
    item = step.item
    out = [{"text": f"Offene Forderung aus {item.number}, fällig seit {step.due_date:%d.%m.%Y}",
            "betrag": _money(step.open_amount)}]
    if step.fee > 0:
        out.append({"text": f"Mahngebühr ({step.fee_rule})", "betrag": _money(step.fee)})
    if step.surcharge > 0:
        out.append({"text": f"Säumniszuschläge nach § 240 AO: {step.surcharge_months} angefangene Monate × 1 % von "
                            f"{_money(step.surcharge_base).replace('.', ',')} €", "betrag": _money(step.surcharge)})
    return out


def letter_records(steps: Sequence[DunningStep], *, on: date) -> list[dict[str, Any]]:
    """One record per step: what the letter says (German field names, as a Fachverfahren would write them)."""
    records = []
    for step in steps:
        item = step.item
        records.append({
            "nummer": f"{item.kassenzeichen}-M{step.level}",
            "kassenzeichen": item.kassenzeichen,
            "beleg": item.number,
            "kunde": item.debtor_ref,
            "stufe": step.stage,
            "stufe_nr": step.level,
            "betreff": f"{step.stage} zum Kassenzeichen {item.kassenzeichen} ({item.number})",
            "datum": on.isoformat(),
            "zahlbar_bis": (on + timedelta(days=PAYMENT_DAYS)).isoformat(),
            "faellig_seit": step.due_date.isoformat(),
            "offen": _money(step.open_amount),
            "mahngebuehr": _money(step.fee),
            "mahngebuehr_grundlage": step.fee_rule,
            "saeumniszuschlag": _money(step.surcharge),
            "saeumnis_monate": step.surcharge_months,
            "saeumnis_basis": _money(step.surcharge_base),
            "gesamt": _money(step.total_due),
            "konto": item.account_iban,
            "grundlage": "; ".join(_legal_basis(step)),
            "positionen": _positions(step),
        })
    return records


def _legal_basis(step: DunningStep) -> list[str]:
    """The provisions the letter names: § 259 AO for taxes and levies, the Land's fee law for a Mahngebühr as
    the step names it, § 240 AO for Säumniszuschläge."""
    basis = ["§ 259 AO (Mahnung vor der Vollstreckung)"] if step.item.taxes_or_levies else []
    if step.fee > 0:
        basis.append(step.fee_rule)
    if step.surcharge > 0:
        basis.append("§ 240 AO (Säumniszuschläge)")
    return basis or ["Zahlungserinnerung der Stadtkasse"]


def batch_bytes(records: Sequence[dict[str, Any]]) -> bytes:
    """JSON lines, UTF-8, keys sorted (the same steps give the same bytes)."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode("utf-8")


def batch_name(on: date, data: bytes) -> str:
    """Unique per run day and content: a second run on the same day with other steps gets its own file."""
    return f"mahnlauf-{on.isoformat()}-{hashlib.sha256(data).hexdigest()[:12]}.jsonl"


def write_letters(config: Any, steps: Sequence[DunningStep], *, on: date) -> str | None:
    """Write the batch for ``steps`` into the dunning department's drop zone; its name, or None without steps."""
    from ..config.locations import location_url
    from ..config.s3 import s3_options
    from ..storage import open_storage

    if not steps:
        return None
    key = config.stadtkasse.dunning_department
    dep = config.departments.get(key)
    if dep is None:
        raise LetterError(f"Die Mahnschreiben können nicht übergeben werden: [stadtkasse] dunning_department = "
                          f"{key!r} ist keine Abteilung in [departments]. Legen Sie [departments.{key}] mit "
                          "Ablage und Zuordnungsprofil an oder nennen Sie eine vorhandene Abteilung.")
    data = batch_bytes(letter_records(steps, on=on))
    name = batch_name(on, data)
    storage = open_storage(location_url(config, dep.drop_zone), shared=True, s3_options=s3_options(config))
    storage.put(name, data, if_absent=True)
    return name
