"""The wording of notices as configuration: ``notices.toml`` in the municipality's design folder.

The file sits beside ``design.toml`` and ``texts.toml`` in the design folder ``config.toml`` names
(``[municipality] design``; the package's neutral ``erechnung/config/templates/default`` otherwise), so one
folder holds everything a municipality restyles or rewords. The court is the configuration's
(``[municipality.court]``): ``[court]`` may say ``{court}``/``{court_address}``, filled by ``for_municipality``.

Per notice kind the file holds the title, the procedural law (which chooses the automation note), the
Rechtsbehelfsbelehrung and further remarks; ``[court]`` names the court for appeals and ``[payment]`` the
VAT exemption reason of the embedded claim and the default term of payment. Texts carry placeholders
(``{authority}``, ``{authority_address}``, ``{court}``, ...) that are filled from the notice; an unknown
placeholder is an error at assessment time, never a gap in a letter.
"""
from __future__ import annotations

import os
import string
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .model import Authority, NoticeError, NoticeKind

#: The placeholders a text may use (filled by ``NoticeConfig.placeholders``).
#: The Land's own provisions a notice cites (``appeal_law.toml``, ``[<Land>.citations]``).
LAND_CITATIONS = frozenset({"land_vwvfg_35a", "land_vwvfg_37_5", "land_kag_ao"})
PLACEHOLDERS = frozenset({"authority", "authority_head", "office", "authority_address", "authority_email", "court",
                          "court_address"}) | LAND_CITATIONS
#: The fixed wording of the letter ([letter]) and the further placeholders each snippet may use.
LETTER_TEXTS: dict[str, frozenset[str]] = {
    "heading_assessment": frozenset(), "heading_due": frozenset(), "heading_reasons": frozenset(),
    "heading_legal_basis": frozenset(), "heading_remarks": frozenset(), "heading_appeal": frozenset(),
    "due_once": frozenset({"betrag", "faellig", "kassenzeichen"}),
    "due_instalments": frozenset({"kassenzeichen"}), "refund": frozenset({"betrag"}), "nothing_due": frozenset(),
    "closing": frozenset(), "claim_note": frozenset(), "seal_note": frozenset(),
    "amends": frozenset({"bescheid", "datum"}),
}
#: Snippets a design may leave out: the package's wording is used (added after designs were written).
LETTER_DEFAULTS: dict[str, str] = {
    "amends": "Dieser Bescheid ändert den Bescheid {bescheid} vom {datum} und tritt an dessen Stelle. Auf den "
              "geänderten Bescheid bereits gezahlte Beträge werden angerechnet.",
}


@dataclass(frozen=True)
class KindTexts:
    """What configuration says about one notice kind."""

    title: str
    intro: str
    procedure: str
    appeal: str
    remarks: tuple[str, ...]
    #: the form of service when notices of this kind are served (förmliche Zustellung; the forms are in
    #: erechnung/config/service.toml: zustellung_eb, zustellung_pzu, einschreiben_rueckschein, einschreiben)
    service: str | None = None


@dataclass(frozen=True)
class NoticeConfig:
    """The parsed ``notices.toml``."""

    court: str
    court_address: str
    vat_exemption_reason: str
    due_days: int
    payment_hint: str
    automation_notes: Mapping[str, str]
    kinds: Mapping[NoticeKind, KindTexts]
    letter: Mapping[str, str]
    source: str
    widerspruch: Mapping[str, str] = field(default_factory=dict)  # [widerspruch]: optional, required, procedure

    def for_municipality(self, values: Mapping[str, str]) -> NoticeConfig:
        """This configuration with the ``{court}``/``{court_address}`` of its ``[court]`` filled from the
        municipality's configuration (``[municipality.court]``, see ``Municipality.design_values``): the
        competent administrative court depends on the district, so it is the configuration's, not the design's."""
        court = {"court": self.court, "court_address": self.court_address}
        filled = {k: v.format_map({"court": values.get("court", "") or "{court}",
                                   "court_address": values.get("court_address", "") or "{court_address}"})
                  for k, v in court.items()}
        return replace(self, **filled)

    def texts(self, kind: NoticeKind) -> KindTexts:
        try:
            return self.kinds[kind]
        except KeyError:
            raise NoticeError(f"no [kinds.{kind.value}] section", field=self.source,
                              fix="add the title, procedure and appeal text for this notice kind") from None

    def placeholders(self, authority: Authority) -> dict[str, str]:
        """The values placeholders stand for, for notices of ``authority``."""
        a = authority.address
        return {
            "authority": authority.name, "authority_head": authority.head or authority.name,
            "office": authority.office, "authority_address": f"{a.street}, {a.post_code} {a.city}",
            "authority_email": authority.email or "", "court": self.court, "court_address": self.court_address,
        }

    def fill(self, text: str, authority: Authority, where: str, **values: str) -> str:
        """``text`` with its placeholders filled (checked when the file was loaded)."""
        _check_placeholders(text, self.source, where, frozenset(values))
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name} & LAND_CITATIONS
        cited = self.land_citations(authority, where) if used else {}
        return text.format_map({**self.placeholders(authority), **cited, **values})

    def land_citations(self, authority: Authority, where: str) -> dict[str, str]:
        """The provisions of the Land of ``authority`` that texts cite (``appeal_law.toml``); NoticeError for a
        Land whose provisions the package does not state: a notice must never cite another Land's law."""
        land = LAND_OF_AGS.get(authority.municipality_key[:2], authority.municipality_key[:2])
        rule = appeal_law().get(land)
        cited = rule.get("citations") if isinstance(rule, dict) else None
        if not isinstance(cited, dict):
            raise NoticeError(f"{where}: für das Land {land} sind die Vorschriften nicht hinterlegt, die der Text "
                              "zitiert ({land_vwvfg_35a} ...)", field=self.source,
                              fix="schreiben Sie den Text in notices.toml mit den Vorschriften Ihres Landes aus")
        return {k: str(cited[k]) for k in LAND_CITATIONS if k in cited}

    def letter_text(self, key: str, authority: Authority, **values: str) -> str:
        """A snippet of ``[letter]`` filled in (``betrag``, ``faellig``, ``kassenzeichen`` where it uses them)."""
        return self.fill(self.letter[key], authority, f"[letter] {key}", **values)

    def intro(self, kind: NoticeKind, authority: Authority) -> str:
        return self.fill(self.texts(kind).intro, authority, f"[kinds.{kind.value}] intro")

    def appeal(self, kind: NoticeKind, authority: Authority) -> str:
        """The Rechtsbehelfsbelehrung of ``kind``, filled in for ``authority``. Refused while the court is
        not configured: a wrong court in the Rechtsbehelfsbelehrung prolongs the time limit to a year
        (§ 58 Abs. 2 VwGO)."""
        texts = self.texts(kind)
        if "{" in self.court + self.court_address:
            raise NoticeError("das zuständige Verwaltungsgericht ist nicht angegeben", field=self.source,
                              fix="tragen Sie es in config.toml unter [municipality.court] ein (name, address)")
        action = self.fill(texts.appeal, authority, f"[kinds.{kind.value}] appeal")
        procedure = self.widerspruch_procedure(authority)
        if procedure == "none":
            return action
        text = self.widerspruch.get(procedure)
        if not text:
            raise NoticeError(f"[widerspruch] {procedure} fehlt: im Land der Behörde ist der Widerspruch "
                              f"{'möglich' if procedure == 'optional' else 'vorgeschrieben'}", field=self.source,
                              fix="ergänzen Sie den Text der Widerspruchsbelehrung in notices.toml")
        preliminary = self.fill(text, authority, f"[widerspruch] {procedure}")
        return f"{preliminary}\n{action}" if procedure == "optional" else preliminary

    def widerspruch_procedure(self, authority: Authority) -> str:
        """Whether a Widerspruch precedes the action, in the Land of ``authority`` (from the first two digits
        of its Gemeindeschlüssel): notices.toml's ``[widerspruch] procedure``, else ``appeal_law.toml``."""
        if self.widerspruch.get("procedure"):
            return self.widerspruch["procedure"]
        land = LAND_OF_AGS.get(authority.municipality_key[:2], authority.municipality_key[:2])
        rule = appeal_law().get(land)
        if not isinstance(rule, dict):
            raise NoticeError(f"für das Land {land} ist nicht hinterlegt, ob vor der Klage ein Widerspruch "
                              "erhoben werden kann (§ 68 VwGO und Landesrecht)", field=self.source,
                              fix='geben Sie es in notices.toml an: [widerspruch] procedure = "none", '
                                  '"optional" oder "required"')
        return rule["procedure"]

    def remarks(self, kind: NoticeKind, authority: Authority) -> tuple[str, ...]:
        return tuple(self.fill(r, authority, f"[kinds.{kind.value}] remarks")
                     for r in self.texts(kind).remarks)

    def automation_note(self, kind: NoticeKind, authority: Authority) -> str:
        procedure = self.texts(kind).procedure
        return self.fill(self.automation_notes[procedure], authority, f"[automation_notes] {procedure}")


#: The Land of a municipality by the first two digits of its Amtlicher Gemeindeschlüssel (Destatis).
LAND_OF_AGS = {"01": "SH", "02": "HH", "03": "NI", "04": "HB", "05": "NW", "06": "HE", "07": "RP", "08": "BW",
               "09": "BY", "10": "SL", "11": "BE", "12": "BB", "13": "MV", "14": "SN", "15": "ST", "16": "TH"}
PROCEDURES = ("none", "optional", "required")
APPEAL_LAW = Path(__file__).with_name("appeal_law.toml")


@lru_cache(maxsize=1)
def appeal_law() -> dict[str, Any]:
    """``appeal_law.toml``: per Land whether a Widerspruchsverfahren precedes the action (with its source)."""
    with APPEAL_LAW.open("rb") as fh:
        return tomllib.load(fh)


def _check_placeholders(text: str, source: str, where: str, extra: frozenset[str] = frozenset()) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise NoticeError(f"{where}: {exc}", field=source, fix="write a literal brace as {{ or }}") from None
    allowed = PLACEHOLDERS | extra
    for name in sorted(names - allowed):
        raise NoticeError(f"{where}: unknown placeholder {{{name}}}", field=source,
                          fix="use one of " + ", ".join("{" + k + "}" for k in sorted(allowed)))


def _service(table: Mapping[str, Any], where: str, source: str) -> str | None:
    """A kind's ``service`` (None or "none": not served); its form is checked against service.toml where the
    delivery plans it (``erechnung.delivery.service``): the notices layer does not know the forms."""
    value = table.get("service")
    if value is None or value == "none":
        return None
    if not isinstance(value, str) or not value.strip():
        raise NoticeError(f"{where} service must name a form of service", field=source,
                          fix='e.g. service = "zustellung_pzu" (erechnung/config/service.toml) or "none"')
    return value.strip()


def _parse(data: Mapping[str, Any], source: str) -> NoticeConfig:
    def need(table: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in table:
            raise NoticeError(f"{where}: {key} is missing", field=source)
        return table[key]

    kinds: dict[NoticeKind, KindTexts] = {}
    for name, table in data.get("kinds", {}).items():
        try:
            kind = NoticeKind(name)
        except ValueError:
            raise NoticeError(f"[kinds.{name}] is no notice kind", field=source,
                              fix="use one of " + ", ".join(k.value for k in NoticeKind)) from None
        where = f"[kinds.{name}]"
        kinds[kind] = KindTexts(title=need(table, "title", where), intro=need(table, "intro", where),
                                procedure=need(table, "procedure", where),
                                appeal=need(table, "appeal", where).strip(),
                                remarks=tuple(table.get("remarks", ())), service=_service(table, where, source))
    court, payment = need(data, "court", "top level"), need(data, "payment", "top level")
    notes = dict(data.get("automation_notes", {}))
    for kind, texts in kinds.items():
        where = f"[kinds.{kind.value}]"
        _check_placeholders(texts.appeal, source, f"{where} appeal")
        _check_placeholders(texts.intro, source, f"{where} intro")
        for remark in texts.remarks:
            _check_placeholders(remark, source, f"{where} remarks")
        if texts.procedure not in notes:
            raise NoticeError(f"{where} procedure {texts.procedure!r} has no text in [automation_notes]",
                              field=source, fix="add it or use one of " + ", ".join(notes))
    for key, note in notes.items():
        _check_placeholders(note, source, f"[automation_notes] {key}")
    widerspruch = dict(data.get("widerspruch", {}))
    for key, text in widerspruch.items():
        if key == "procedure":
            if text not in PROCEDURES:
                raise NoticeError(f"[widerspruch] procedure {text!r} is not known", field=source,
                                  fix="use one of " + ", ".join(PROCEDURES))
        elif key in ("optional", "required"):
            _check_placeholders(text, source, f"[widerspruch] {key}")
        else:
            raise NoticeError(f"[widerspruch] {key} is not known", field=source,
                              fix="use procedure, optional, required")
    letter = {**LETTER_DEFAULTS, **need(data, "letter", "top level")}
    for key, extra in LETTER_TEXTS.items():
        _check_placeholders(need(letter, key, "[letter]"), source, f"[letter] {key}", extra)
    for key in sorted(set(letter) - set(LETTER_TEXTS)):
        raise NoticeError(f"[letter] {key} is not a snippet the letter uses", field=source,
                          fix="remove it or check the spelling (" + ", ".join(LETTER_TEXTS) + ")")
    return NoticeConfig(
        court=need(court, "name", "[court]"), court_address=need(court, "address", "[court]"),
        vat_exemption_reason=need(payment, "vat_exemption_reason", "[payment]"),
        due_days=int(payment.get("due_days", 30)), payment_hint=payment.get("hint", ""),
        automation_notes=notes, kinds=kinds, letter=dict(letter), source=source,
        widerspruch={k: v.strip() for k, v in widerspruch.items()})


def parse_config(text: str, source: str = "notices.toml") -> NoticeConfig:
    """A configuration from TOML text (tests and callers with their own storage)."""
    try:
        return _parse(tomllib.loads(text), source)
    except tomllib.TOMLDecodeError as exc:
        raise NoticeError(f"not valid TOML: {exc}", field=source) from exc


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> NoticeConfig:
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def config_file(path: Path | str | None = None) -> Path:
    """The notices.toml to use: ``path`` (a folder or the file; a configuration's is beside its design,
    ``Config.design().source.parent``), else beside ``$ERECHNUNG_DESIGN``, else the sample city's
    (``examples/design`` in a checkout), else the package's neutral one."""
    from ..config.design import DEFAULT_DIR, ENV_VARIABLE, SAMPLE_DIR

    fallback = SAMPLE_DIR if SAMPLE_DIR.is_dir() else DEFAULT_DIR
    where = Path(path or os.environ.get(ENV_VARIABLE) or fallback).expanduser()
    if where.is_dir():
        return where / "notices.toml"
    return where if where.name == "notices.toml" or path else where.parent / "notices.toml"


def load_config(path: Path | str | None = None) -> NoticeConfig:
    """The notice configuration (see ``config_file``), read and checked once per change of the file."""
    file = config_file(path)
    try:
        config = _load(file.resolve(), file.stat().st_mtime_ns)
    except OSError as exc:
        raise NoticeError(f"cannot read the notice configuration: {exc.strerror or exc}", field=str(file)) from exc
    if path is None:  # no configuration at hand: the court of the default design's municipality
        from ..config.design import load_design

        config = config.for_municipality(dict(load_design().values))
    return config
