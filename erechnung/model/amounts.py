"""Amounts as German readers and German spreadsheets write them: ``1.234,56`` in letters, reports and screens;
``1234,56`` (no thousands separator) in CSV files, so that Excel reads the cell as a number."""
from __future__ import annotations

from decimal import Decimal

__all__ = ["de_amount", "de_number"]


def de_amount(value: Decimal | int | float) -> str:
    """``1234.5`` -> ``1.234,50``."""
    return f"{value:,.2f}".replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


def de_number(value: Decimal | int | float) -> str:
    """``-1234.5`` -> ``-1234,50``."""
    return f"{value:.2f}".replace(".", ",")
