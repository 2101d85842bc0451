"""The Stadtkasse's matching rules in the configuration (issue 15): ``[payments]``.

    [payments]
    patterns = ['KZ[:.\\s]*(?P<ref>[0-9][0-9.\\s-]{4,30})']  # regexes with a group named "ref" (optional)
    scan_text = true                  # besides the patterns: look for every known reference anywhere in the text
    missing_check_digit = true        # "5.0300.100001" finds the Kassenzeichen "5.0300.100001.4"
    min_reference_length = 6          # shorter references (after removing spaces, dots, hyphens) are ignored
    return_fee = "bank"               # returned direct debits: "bank" = the bank's fee from the statement,
                                      # "fixed" = return_fee_amount, "none" = no fee added to the item
    return_fee_amount = "0.00"        # EUR, for return_fee = "fixed" (what the Land's cost law allows)

``MatchRules`` is what ``erechnung.payments.matching.match`` applies; the patterns are compiled once here, so
that a pattern without a ``ref`` group, or one that does not compile, is a configuration mistake with its place.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .problems import Strict

__all__ = ["MatchRules", "PaymentsSection", "ReturnFee"]

ReturnFee = Literal["bank", "fixed", "none"]
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 300


class MatchRules(Strict):
    """How bank entries find their open items (see ``erechnung.payments.matching`` for the order of the rules)."""

    patterns: tuple[str, ...] = ()
    scan_text: bool = True
    missing_check_digit: bool = True
    min_reference_length: int = Field(6, ge=3, le=35)
    return_fee: ReturnFee = "bank"
    return_fee_amount: Decimal = Field(Decimal("0"), ge=0, le=1000)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) > MAX_PATTERNS:
            raise ValueError(f"höchstens {MAX_PATTERNS} Muster (patterns)")
        for pattern in v:
            if len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(f"ein Muster ist länger als {MAX_PATTERN_LENGTH} Zeichen: {pattern[:40]!r}...")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"das Muster {pattern!r} ist kein gültiger regulärer Ausdruck ({exc}); "
                                 "z. B. 'KZ[:.\\s]*(?P<ref>[0-9][0-9.\\s-]{4,30})'") from None
            if "ref" not in compiled.groupindex:
                raise ValueError(f"das Muster {pattern!r} hat keine Gruppe namens ref; schreiben Sie den Teil, "
                                 "der das Kassenzeichen oder die Belegnummer ist, als (?P<ref>...)")
        return v

    @model_validator(mode="after")
    def _fee(self) -> "MatchRules":
        if self.return_fee == "fixed" and self.return_fee_amount <= 0:
            raise ValueError("return_fee = \"fixed\" braucht return_fee_amount > 0, z. B. return_fee_amount = "
                             "\"3.00\"")
        return self

    @cached_property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        """The patterns, compiled (checked above)."""
        return tuple(re.compile(p) for p in self.patterns)

    def fee(self, bank_charges: Decimal | None) -> Decimal:
        """The fee a returned direct debit adds to the item it reverses, per ``return_fee``."""
        if self.return_fee == "bank":
            return bank_charges or Decimal("0")
        return self.return_fee_amount if self.return_fee == "fixed" else Decimal("0")


class PaymentsSection(MatchRules):
    """``[payments]``: today the matching rules; the dunning and direct-debit settings join them here."""
