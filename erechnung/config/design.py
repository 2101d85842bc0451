"""The municipality's design system, read from a folder it can restyle without touching code.

A design folder's ``design.toml`` holds the letterhead, colours, fonts (TrueType files), contact block, bank
details, footer and the DIN 5008 page frame; ``texts.toml`` beside it holds the wording. Everything it says
about the sender may be a placeholder (``{name}``, ``{head}``, ``{iban}``, ... see ``PLACEHOLDERS``) filled from
the municipality's configuration: ``load_design(path, values)``, ``values`` from
``config.Municipality.design_values()``. The package's own folder ``config/templates/default`` names no
municipality at all: every sender detail in it is a placeholder, so it is only usable with a configuration.
A placeholder without a value is a mistake of the design, reported when it is loaded.

``config.toml`` names a municipality's folder (``[municipality] design = "design"``). ``load_design()`` without
arguments (tools and tests without a configuration) reads ``$ERECHNUNG_DESIGN``, else the sample city's design
in the checkout's ``examples/design``. Each design is read and checked once per process and set of values.
Every mistake is reported at once with its key and how to fix it::

    DesignError: design /srv/kommune/design.toml has 2 problems:
      colors.primary: 'blau' is not a colour - write #RRGGBB, e.g. "#1F4E79"
      fonts.bold: /srv/kommune/fonts/Arial-Bold.ttf does not exist - give the path of a .ttf file

Lengths are millimetres from the page's top left corner (as DIN 5008 states them); ``Design.mm_from_top``
and friends turn them into reportlab points.
"""
from __future__ import annotations

import os
import re
import string
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator,
)

from ..errors import ErechnungError

DEFAULT_DIR = Path(__file__).with_name("templates") / "default"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "design"  # the sample city's, in a checkout
ENV_VARIABLE = "ERECHNUNG_DESIGN"
#: What a design may take from the configuration (``Municipality.design_values``); ``{name}`` in design.toml.
PLACEHOLDERS: dict[str, str] = {
    "name": "Name der Kommune", "head": "Behördenleitung (\"Der Bürgermeister\")",
    "street": "Straße der Anschrift", "post_code": "PLZ", "city": "Ort", "address": "Straße, PLZ Ort",
    "postal_address": "Postanschrift (Postfach, PLZ Ort) oder die Anschrift", "contact_name": "Kontakt: Name",
    "phone": "Kontakt: Telefon", "email": "Kontakt: E-Mail", "website": "Internetauftritt",
    "opening_hours": "Sprechzeiten", "account_holder": "Kontoinhaber des Standardkontos",
    "bank_name": "Bank des Standardkontos", "iban": "IBAN des Standardkontos", "bic": "BIC des Standardkontos",
    "court": "zuständiges Verwaltungsgericht", "court_address": "Anschrift des Verwaltungsgerichts",
}
A4_WIDTH_MM, A4_HEIGHT_MM = 210.0, 297.0
MM = 72 / 25.4  # points per millimetre


class DesignError(ErechnungError, ValueError):
    """The design folder cannot be used; ``problems`` lists every mistake as ``key: what - fix``."""

    def __init__(self, source: Path | str, problems: list[str]) -> None:
        self.source, self.problems = str(source), problems
        head = f"design {source} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"
        super().__init__("\n  ".join([head, *problems]))


# --------------------------------------------------------------------------------------------- value types

_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def _colour(value: Any) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError(f"{value!r} is not a colour - write #RRGGBB, e.g. \"#1F4E79\"")
    return value.upper()


Colour = Annotated[str, BeforeValidator(_colour)]


def _ttf(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} does not exist - give the path of a .ttf file")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"OTTO":
        raise ValueError(f"{path} is an OpenType font with CFF outlines, which reportlab cannot embed - "
                         "use a TrueType (.ttf) font")
    if magic not in (b"\x00\x01\x00\x00", b"true"):
        raise ValueError(f"{path} is not a TrueType font file - give the path of a .ttf file")
    return path


def _picture(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} does not exist - give the path of a PNG or JPEG file")
    with path.open("rb") as fh:
        magic = fh.read(8)
    if not (magic.startswith(b"\x89PNG\r\n\x1a\n") or magic.startswith(b"\xff\xd8")):
        raise ValueError(f"{path} is neither PNG nor JPEG - save the logo as PNG or JPEG")
    return path


def _iban(value: str) -> str:
    compact = re.sub(r"\s+", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        raise ValueError(f"{value!r} is not an IBAN - write it like DE02120300000000202051")
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        raise ValueError(f"{value!r} has a wrong check sum - copy the IBAN again from the bank's documents")
    return compact


def _bic(value: str) -> str:
    compact = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?", compact):
        raise ValueError(f"{value!r} is not a BIC - 8 or 11 letters and digits, e.g. BYLADEM1001")
    return compact


Iban = Annotated[str, AfterValidator(_iban)]
Bic = Annotated[str, AfterValidator(_bic)]
Millimetres = Annotated[float, Field(ge=0, le=A4_HEIGHT_MM)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------------- the parts


class Letterhead(_Part):
    name: str = Field(min_length=1)
    lines: tuple[str, ...] = ()
    logo: Annotated[Path, AfterValidator(_picture)] | None = None
    logo_width: Annotated[float, Field(gt=0, le=60)] = 20.0
    return_address: str = Field(min_length=1)


class Colours(_Part):
    primary: Colour
    text: Colour
    muted: Colour
    rule: Colour
    table_header: Colour


class Fonts(_Part):
    regular: Annotated[Path, AfterValidator(_ttf)]
    bold: Annotated[Path, AfterValidator(_ttf)]
    italic: Annotated[Path, AfterValidator(_ttf)] | None = None
    size: Annotated[float, Field(ge=6, le=14)] = 9.0


class ContactBlock(_Part):
    lines: tuple[str, ...] = ()


class Bank(_Part):
    account_holder: str = Field(min_length=1)
    bank_name: str = ""
    iban: Iban
    bic: Bic | None = None


class Footer(_Part):
    columns: Annotated[tuple[tuple[str, ...], ...], Field(max_length=3)] = ()


class AddressWindow(_Part):
    """DIN 5008 Anschriftfeld (Form B: 85 x 45 mm at 45 mm from the top, 20 mm from the left)."""

    top: Millimetres = 45.0
    left: Millimetres = 20.0
    width: Annotated[float, Field(gt=0)] = 85.0
    height: Annotated[float, Field(gt=0)] = 45.0
    return_address_zone: Annotated[float, Field(gt=0)] = 17.7

    @model_validator(mode="after")
    def _fits(self) -> AddressWindow:
        if self.return_address_zone >= self.height:
            raise ValueError(f"return_address_zone ({self.return_address_zone} mm) must be smaller than the "
                             f"window's height ({self.height} mm) - DIN 5008 has 17.7 of 45 mm")
        if self.left + self.width > A4_WIDTH_MM or self.top + self.height > A4_HEIGHT_MM:
            raise ValueError("the address window reaches over the page's edge - DIN 5008 Form B: top 45, "
                             "left 20, width 85, height 45")
        return self


class InfoBlock(_Part):
    top: Millimetres = 50.0
    left: Millimetres = 125.0
    width: Annotated[float, Field(gt=20)] = 75.0


class Page(_Part):
    margin_left: Annotated[float, Field(ge=5, le=60)] = 25.0
    margin_right: Annotated[float, Field(ge=5, le=60)] = 20.0
    margin_top: Annotated[float, Field(ge=5, le=60)] = 20.0
    margin_bottom: Annotated[float, Field(ge=10, le=80)] = 28.0
    subject_top: Millimetres = 98.46
    fold_marks: tuple[Millimetres, ...] = (105.0, 210.0)
    hole_mark: Millimetres | None = 148.5
    address_window: AddressWindow = AddressWindow()
    info_block: InfoBlock = InfoBlock()

    @model_validator(mode="after")
    def _frame(self) -> Page:
        window, info = self.address_window, self.info_block
        if info.left < window.left + window.width:
            raise ValueError(f"info_block.left ({info.left} mm) overlaps the address window, which ends at "
                             f"{window.left + window.width} mm - DIN 5008 Form B puts it at 125 mm")
        if info.left + info.width > A4_WIDTH_MM:
            raise ValueError(f"the info block ends at {info.left + info.width} mm, beyond the page's "
                             f"{A4_WIDTH_MM} mm - make it narrower")
        if self.subject_top < window.top + window.height:
            raise ValueError(f"subject_top ({self.subject_top} mm) lies inside the address window, which ends "
                             f"at {window.top + window.height} mm - DIN 5008 Form B: 98.46")
        if self.margin_left + self.margin_right > A4_WIDTH_MM - 80:
            raise ValueError("margin_left + margin_right leave less than 80 mm for the text")
        return self


#: The invoice's wording and the placeholders each snippet may use (``str.format`` names).
INVOICE_TEXTS: dict[str, frozenset[str]] = {
    "subject": frozenset({"nummer", "datum"}),
    "subject_credit_note": frozenset({"nummer", "datum"}),
    "greeting": frozenset(),
    "intro": frozenset(),
    "intro_credit_note": frozenset(),
    "pay_by_transfer": frozenset({"betrag", "faellig", "kassenzeichen"}),
    "pay_by_transfer_no_due_date": frozenset({"betrag", "kassenzeichen"}),
    "direct_debit": frozenset({"betrag", "faellig", "iban", "mandat", "glaeubiger"}),
    "refund": frozenset({"betrag"}),
    "nothing_due": frozenset(),
    "qr_caption": frozenset(),
    "closing": frozenset(),
    "signature": frozenset(),
    "hybrid_note": frozenset(),
}


class Design(_Part):
    """One municipality's design, every path resolved and checked (see the module docstring)."""

    source: Path
    letterhead: Letterhead
    colors: Colours
    fonts: Fonts
    contact: ContactBlock = ContactBlock()
    bank: Bank
    footer: Footer = Footer()
    page: Page = Page()
    texts: dict[str, dict[str, str]]
    values: tuple[tuple[str, str], ...] = ()  # the configuration's values its placeholders were filled with

    def text(self, section: str, key: str, **values: str) -> str:
        """A snippet from texts.toml with its placeholders filled in."""
        return self.texts[section][key].format(**values)

    # DIN 5008 lengths (mm from the top left) as reportlab coordinates (points from the bottom left)
    @staticmethod
    def x(mm_from_left: float) -> float:
        return mm_from_left * MM

    @staticmethod
    def y(mm_from_top: float) -> float:
        return (A4_HEIGHT_MM - mm_from_top) * MM


# --------------------------------------------------------------------------------------------- loading


def _resolve(value: Any, base: Path) -> Any:
    """A path string relative to the design file, or in reportlab's fonts folder (``@reportlab/Vera.ttf``)."""
    if not isinstance(value, str):
        return value
    if value.startswith("@reportlab/"):
        import reportlab
        return Path(reportlab.__file__).parent / "fonts" / value.removeprefix("@reportlab/")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _placeholders(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def _check_texts(texts: Any, where: str) -> list[str]:
    if not isinstance(texts, dict):
        return [f"{where}: is not a TOML table of sections"]
    problems = []
    invoice = texts.get("invoice")
    if not isinstance(invoice, dict):
        return [f"{where}: [invoice] section is missing - copy it from {DEFAULT_DIR / 'texts.toml'}"]
    for key, allowed in INVOICE_TEXTS.items():
        value = invoice.get(key)
        if not isinstance(value, str):
            problems.append(f"{where}: invoice.{key} is missing - every invoice snippet is needed")
            continue
        try:
            unknown = _placeholders(value) - allowed
        except ValueError as exc:
            problems.append(f"{where}: invoice.{key}: {exc} - write braces as {{{{ and }}}}")
            continue
        if unknown:
            problems.append(f"{where}: invoice.{key}: unknown placeholder {', '.join(sorted(unknown))} - "
                            f"allowed here: {', '.join(sorted(allowed)) or 'none'}")
    for key in sorted(set(invoice) - set(INVOICE_TEXTS)):
        problems.append(f"{where}: invoice.{key} is not a snippet the invoice uses - remove it or check the "
                        f"spelling ({', '.join(INVOICE_TEXTS)})")
    for section, snippets in texts.items():
        if not isinstance(snippets, dict) or not all(isinstance(v, str) for v in snippets.values()):
            problems.append(f"{where}: [{section}] must hold text snippets only (key = \"text\")")
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DesignError(path, [f"{path} does not exist - give a design folder or its design.toml"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise DesignError(path, [f"not valid TOML: {exc}"]) from None


def _fill(value: Any, values: dict[str, str] | None, where: str, problems: list[str]) -> Any:
    """``value`` (a design.toml value) with its ``{placeholders}`` filled from ``values``; lists lose the lines
    that came out empty (a municipality without a head has no head line)."""
    if isinstance(value, dict):
        return {k: _fill(v, values, f"{where}.{k}" if where else k, problems) for k, v in value.items()}
    if isinstance(value, list):
        filled = [_fill(v, values, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return [v for v in filled if v != ""]
    if not isinstance(value, str) or "{" not in value:
        return value
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        problems.append(f"{where}: {exc} - write a literal brace as {{{{ or }}}}")
        return value
    for name in names:
        if name not in PLACEHOLDERS:
            problems.append(f"{where}: unbekannter Platzhalter {{{name}}} - erlaubt sind "
                            + ", ".join("{" + k + "}" for k in PLACEHOLDERS))
        elif values is None:
            problems.append(f"{where}: der Platzhalter {{{name}}} braucht die Angaben der Kommune - nennen Sie "
                            "diesen Design-Ordner in config.toml unter [municipality] design")
    if any(p.startswith(where + ":") for p in problems):
        return value
    return value.format_map(values or {}).strip()


def _design_file(path: Path | str | None) -> Path:
    if path is None:
        path = os.environ.get(ENV_VARIABLE) or (SAMPLE_DIR if SAMPLE_DIR.is_dir() else DEFAULT_DIR)
    path = Path(path).expanduser().resolve()
    return path / "design.toml" if path.is_dir() else path


def load_design(path: Path | str | None = None, values: dict[str, str | None] | None = None) -> Design:
    """The design in ``path`` (a folder with design.toml, or the file itself), its placeholders filled from
    ``values`` (``Municipality.design_values()``); default: ``$ERECHNUNG_DESIGN``, else the sample city's
    ``examples/design``. Read and checked once per process per file and values; raises DesignError."""
    file = _design_file(path)
    if values is None and SAMPLE_DIR.is_dir() and file.parent == SAMPLE_DIR.resolve():
        values = _sample_values()  # the sample city's design, with the sample city's configuration
    key = None if values is None else tuple(sorted((k, v or "") for k, v in values.items()))
    return _load(file, key)


@lru_cache(maxsize=1)
def _sample_values() -> dict[str, str]:
    """The sample city's values (``examples/config.toml`` beside its design), for callers without a
    configuration (tools, tests)."""
    from .app import parse_config

    file = SAMPLE_DIR.parent / "config.toml"
    return parse_config(file.read_bytes(), str(file), base_dir=file.parent).municipality.design_values()


@lru_cache(maxsize=16)
def _load(file: Path, values: tuple[tuple[str, str], ...] | None) -> Design:
    problems: list[str] = []
    raw = _fill(_read_toml(file), None if values is None else dict(values), "", problems)
    raw.pop("values", None)
    base = file.parent
    bank = raw.get("bank")
    if isinstance(bank, dict) and bank.get("bic") == "":
        bank.pop("bic")
    texts: Any = {}
    texts_name = raw.pop("texts", "texts.toml")
    if not isinstance(texts_name, str):
        problems.append("texts: must be the name of the texts file, e.g. \"texts.toml\"")
    else:
        texts_file = _resolve(texts_name, base)
        try:
            texts = _read_toml(texts_file)
        except DesignError as exc:
            problems.extend(f"texts: {p}" for p in exc.problems)
        else:
            problems.extend(_check_texts(texts, f"texts ({texts_file.name})"))
    for section, key in (("letterhead", "logo"), ("fonts", "regular"), ("fonts", "bold"), ("fonts", "italic")):
        part = raw.get(section)
        if isinstance(part, dict) and key in part:
            part[key] = _resolve(part[key], base)
    try:
        design = Design.model_validate({**raw, "source": file, "texts": texts if isinstance(texts, dict) else {},
                                        "values": values or ()})
    except ValidationError as exc:
        problems.extend(_problem(error) for error in exc.errors())
        raise DesignError(file, problems) from None
    if problems:
        raise DesignError(file, problems)
    return design


def _problem(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"] if p not in ("function-after", "function-before"))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where}: is missing - see {DEFAULT_DIR / 'design.toml'} for every key"
    if error["type"] == "extra_forbidden":
        return f"{where}: is not a design key - check the spelling against {DEFAULT_DIR / 'design.toml'}"
    got = error.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int, float)) and repr(got) not in message else ""
    return f"{where}: {message}{shown}"
