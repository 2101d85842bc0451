"""The GiroCode (EPC069-12 v002 QR code for a SEPA credit transfer) that banking apps scan."""
from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from reportlab.graphics.barcode import qrencoder

from erechnung.documents.qr import GiroCodeError, _penalty, epc_payload, qr_rows


def test_epc_payload_puts_a_kassenzeichen_into_the_unstructured_remittance():
    payload = epc_payload(name="Stadtkasse Musterstadt", iban="DE02 1203 0000 0000 2020 51", bic="BYLADEM1001",
                          amount=Decimal("1213.7"), remittance="5.0120.000117.3")
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "BYLADEM1001", "Stadtkasse Musterstadt",
                                   "DE02120300000000202051", "EUR1213.70", "", "", "5.0120.000117.3"]


def test_epc_payload_puts_a_creditor_reference_into_the_structured_remittance():
    payload = epc_payload(name="Stadtkasse", iban="DE02120300000000202051", amount=Decimal("5"),
                          remittance="RF18 5390 0754 7034")
    assert payload.split("\n")[4:] == ["", "Stadtkasse", "DE02120300000000202051", "EUR5.00", "",
                                       "RF18 5390 0754 7034"]


@pytest.mark.parametrize("kwargs, problem", [
    ({"amount": Decimal("0")}, "amount"),
    ({"amount": Decimal("1000000000")}, "amount"),
    ({"iban": "12345"}, "IBAN"),
    ({"bic": "XX"}, "BIC"),
    ({"name": "  "}, "name"),
])
def test_epc_payload_refuses_what_banking_apps_cannot_pay(kwargs, problem):
    values = {"name": "Stadtkasse", "iban": "DE02120300000000202051", "amount": Decimal("10"), **kwargs}
    with pytest.raises(GiroCodeError, match=problem):
        epc_payload(**values)


def _reportlab_symbol(payload: str, mask: int) -> list[str]:
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(qrencoder.QR8bitByte(payload))
    code.version = code.calculate_version()
    code.makeImpl(False, mask)
    return ["".join("1" if dark else "0" for dark in row) for row in code.modules]


@pytest.mark.parametrize("length", [1, 14, 40, 100, 150, 231, 331, 600])
def test_the_fast_encoder_draws_the_same_symbol_as_reportlabs_for_every_mask(length: int):
    """Versions 1 to 18 (EPC allows up to 13): identical modules, so only the mask choice is ours."""
    rng = random.Random(length)
    payload = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzÄÖÜß0123456789 \n") for _ in range(length))
    for mask in range(8):
        assert qr_rows(payload, mask=mask) == _reportlab_symbol(payload, mask), (length, mask)


def test_the_mask_with_the_lowest_penalty_is_chosen():
    payload = epc_payload(name="Stadtkasse Musterstadt", iban="DE02120300000000202051", amount=Decimal("1213.70"),
                          remittance="5.0120.000117.3")
    chosen = qr_rows(payload)
    assert chosen in [qr_rows(payload, mask=m) for m in range(8)]
    assert len(chosen) == 41  # version 6 for this GiroCode


def _iso_penalty(symbol: list[str]) -> int:
    """ISO/IEC 18004:2015 7.8.3.1, module by module: the reference the fast penalty is checked against."""
    n = len(symbol)
    lines = symbol + ["".join(row[c] for row in symbol) for c in range(n)]
    score = 0
    for line in lines:  # N1: 3 + i for each run of 5 + i modules of one colour
        run = 1
        for a, b in zip(line, line[1:] + "x"):
            if a == b:
                run += 1
                continue
            if run >= 5:
                score += 3 + run - 5
            run = 1
    for r in range(n - 1):  # N2: 3 per 2x2 block of one colour
        for c in range(n - 1):
            if symbol[r][c] == symbol[r][c + 1] == symbol[r + 1][c] == symbol[r + 1][c + 1]:
                score += 3
    for line in lines:  # N3: 40 per 1:1:3:1:1 pattern with four light modules before or after it
        for i in range(n - 10):
            if line[i:i + 11] in ("10111010000", "00001011101"):
                score += 40
    dark = sum(row.count("1") for row in symbol)  # N4: 10 per full 5 % from half dark
    score += 10 * int(abs(Fraction(100 * dark, n * n) - 50) / 5)
    return score


@pytest.mark.parametrize("seed", range(12))
def test_the_mask_chosen_has_the_lowest_iso_18004_penalty(seed: int):
    rng = random.Random(seed)
    payload = epc_payload(name=f"Bürgerin {rng.randint(1, 10**6)}", iban="DE02120300000000202051",
                          amount=Decimal(rng.randint(1, 10**7)) / 100,
                          remittance=f"STA-{rng.randint(1, 10**9)} " + "x" * rng.randint(0, 60))
    symbols = [qr_rows(payload, mask=m) for m in range(8)]
    penalties = [_iso_penalty(symbol) for symbol in symbols]
    for symbol, expected in zip(symbols, penalties):  # the encoder's own scoring, on the symbol as integers
        n = len(symbol)
        rows = int("".join(row[::-1] for row in symbol), 2)
        columns = int("".join("".join(row[c] for row in symbol)[::-1] for c in range(n)), 2)
        assert _penalty(rows, columns, n) == expected
    assert qr_rows(payload) == qr_rows(payload, mask=penalties.index(min(penalties))), penalties
