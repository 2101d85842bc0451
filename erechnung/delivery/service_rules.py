"""The forms of service (förmliche Zustellung, VwZG) as data: ``erechnung/config/service.toml``.

A notice kind names its form in ``notices.toml`` (``[kinds.<kind>] service = "zustellung_pzu"``); the form says
which channels can carry it, what proof comes back (Empfangsbekenntnis § 5 Abs. 7 VwZG, Postzustellungsurkunde
§ 3 VwZG / § 182 ZPO, Rückschein § 4 Abs. 2 Satz 1 VwZG), what the message or envelope must say, and which rule
gives the date of service when no proof comes (§ 4 Abs. 2 Satz 2 VwZG: the 4th day after posting). The fiction
rules are written in the format of ``legal.toml`` and computed by the same code (``notification``)."""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from erechnung.config import channels as _config_package
from erechnung.errors import ErechnungError

from .notification import LegalRules

#: The forms' file beside legal.toml.
DEFAULT_SERVICE_RULES = Path(_config_package.__file__).resolve().with_name("service.toml")
PROOFS = ("empfangsbekenntnis", "pzu", "rueckschein", "")
#: What ``erechnung service record --form`` names, and the proof it is.
PROOF_NAMES: Mapping[str, str] = {"pzu": "Postzustellungsurkunde", "rueckschein": "Rückschein",
                                  "empfangsbekenntnis": "Empfangsbekenntnis"}
#: How a document was served, as the clerk reads it (the keys are what the proof form offers).
WAYS: Mapping[str, str] = {"persoenlich": "persönlich übergeben", "ersatzzustellung": "Ersatzzustellung",
                           "niederlegung": "Niederlegung", "ersatzempfaenger": "an Ersatzempfänger übergeben",
                           "elektronisch": "elektronisch (Empfangsbekenntnis)"}


class ServiceRuleError(ErechnungError):
    """``service.toml`` (or a notice kind's ``service``) is wrong: what, where, how to fix."""


@dataclass(frozen=True)
class ServiceForm:
    """One form of service (see the file's header)."""

    name: str
    title: str
    paragraph: str
    channels: tuple[str, ...]
    proof: str
    marking: str
    proof_paragraph: str = ""
    ways: tuple[str, ...] = ()
    fallback: str | None = None
    acknowledgement_days: int | None = None
    on_no_acknowledgement: str = "fall_back"
    fiction: str | None = None

    @property
    def electronic(self) -> bool:
        return self.proof == "empfangsbekenntnis"


@dataclass(frozen=True)
class ServiceRules:
    forms: Mapping[str, ServiceForm]
    fictions: LegalRules  # the [rules.*] of the file, in legal.toml's format
    version: str
    path: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> ServiceRules:
        return _load(str(Path(path or DEFAULT_SERVICE_RULES).resolve()))

    @classmethod
    def from_text(cls, text: str, path: str = "<text>") -> ServiceRules:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ServiceRuleError(f"{path}: kein gültiges TOML: {exc}") from None
        fictions = LegalRules.from_text(text, path)
        forms: dict[str, ServiceForm] = {}
        for name, t in raw.get("forms", {}).items():
            where = f"{path} [forms.{name}]"
            missing = [k for k in ("title", "paragraph", "channels", "proof", "marking") if k not in t]
            if missing:
                raise ServiceRuleError(f"{where}: es fehlt {', '.join(missing)} - ergänzen Sie die Angabe")
            if t["proof"] not in PROOFS:
                known = ", ".join(p or '""' for p in PROOFS)
                raise ServiceRuleError(f"{where}: proof {t['proof']!r} ist unbekannt - eines von {known}")
            if t.get("on_no_acknowledgement", "fall_back") not in ("fall_back", "fiction"):
                raise ServiceRuleError(f"{where}: on_no_acknowledgement muss fall_back oder fiction sein")
            fiction = t.get("fiction")
            if fiction is not None and fiction not in fictions.bases:
                raise ServiceRuleError(f"{where}: fiction {fiction!r} hat keinen Abschnitt [rules.{fiction}]")
            unknown = set(t.get("ways", ())) - set(WAYS)
            if unknown:
                raise ServiceRuleError(f"{where}: ways {', '.join(sorted(unknown))} unbekannt - eines von "
                                       f"{', '.join(WAYS)}")
            days = t.get("acknowledgement_days")
            forms[name] = ServiceForm(
                name=name, title=t["title"], paragraph=t["paragraph"], channels=tuple(t["channels"]),
                proof=t["proof"], marking=t["marking"], proof_paragraph=t.get("proof_paragraph", ""),
                ways=tuple(t.get("ways", ())), fallback=t.get("fallback"),
                acknowledgement_days=None if days is None else int(days),
                on_no_acknowledgement=t.get("on_no_acknowledgement", "fall_back"), fiction=fiction)
        for form in forms.values():
            if form.fallback is not None and form.fallback not in forms:
                raise ServiceRuleError(f"{path} [forms.{form.name}]: fallback {form.fallback!r} ist keine Form")
            if form.electronic and form.acknowledgement_days is None:
                raise ServiceRuleError(f"{path} [forms.{form.name}]: acknowledgement_days fehlt (wie lange auf das "
                                       "Empfangsbekenntnis gewartet wird)")
        return cls(forms, fictions, str(raw.get("version", "")), path)

    def form(self, name: str) -> ServiceForm:
        try:
            return self.forms[name]
        except KeyError:
            raise ServiceRuleError(f"die Zustellungsform {name!r} steht nicht in {self.path} - eine von "
                                   f"{', '.join(self.forms)}, oder service in notices.toml korrigieren") from None

    def chain(self, name: str) -> list[ServiceForm]:
        """The form and its fallbacks, in order (each once)."""
        out: list[ServiceForm] = []
        while name is not None and name not in [f.name for f in out]:
            form = self.form(name)
            out.append(form)
            name = form.fallback  # type: ignore[assignment]
        return out


@lru_cache(maxsize=4)
def _load(path: str) -> ServiceRules:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceRuleError(f"die Zustellungsformen {path} können nicht gelesen werden: {exc.strerror or exc}") \
            from None
    return ServiceRules.from_text(text, path)
