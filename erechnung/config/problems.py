"""How a configuration file's mistakes are told: ``ConfigProblem`` (file, key path, value, what is wrong, what to
write instead, in German), ``ConfigError`` holding every one of them, and ``problems_from``, which turns pydantic's
validation errors of any configuration model (the configuration, a mapping profile) into them."""
from __future__ import annotations

import difflib
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from ..errors import ErechnungError, RecordError


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in a configuration or mapping file."""

    file: str
    key: str
    value: str | None
    problem: str
    fix: str

    def __str__(self) -> str:
        value = f" = {self.value}" if self.value is not None else ""
        return f"{self.file}: {self.key or '(Datei)'}{value}: {self.problem} - {self.fix}"


class ConfigError(ErechnungError, ValueError):
    """A configuration (or mapping profile) with mistakes; ``problems`` lists every one."""

    def __init__(self, problems: list[ConfigProblem] | tuple[ConfigProblem, ...]) -> None:
        self.problems = tuple(problems)
        count = f"{len(self.problems)} Fehler" if len(self.problems) != 1 else "1 Fehler"
        super().__init__(f"{count} in der Konfiguration:\n" + "\n".join(f"  {p}" for p in self.problems))


def toml_table(text: str | bytes, name: str) -> dict[str, Any]:
    """The TOML in ``text`` (bytes: UTF-8, with or without BOM) as a table; ``ConfigError`` says what is wrong
    (the configuration and the mapping profiles read their files through this)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError([ConfigProblem(name, "", None, "die Datei ist nicht UTF-8-kodiert",
                                             "speichern Sie sie als UTF-8")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(name, "", None, f"kein gültiges TOML: {exc}",
                                         "prüfen Sie die genannte Zeile (Anführungszeichen, = , [Abschnitt])")]) \
            from None


def custom(problem: str, fix: str) -> PydanticCustomError:
    """A validator's problem in the clerk's words; ``problems_from`` shows its problem and fix."""
    return PydanticCustomError("config", "{problem}", {"problem": problem, "fix": fix})


def checked(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A field validator from a parser of ``model.identifiers``: its German problem and fix become the config
    problem."""
    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise custom("ist kein Text", "schreiben Sie den Wert in Anführungszeichen")
        try:
            return parse(value)
        except RecordError as exc:
            raise custom(exc.problem, exc.fix) from None
    return check


def problems_from(exc: ValidationError, file: str, data: Any, prefix: str = "", *,
                  model: type[BaseModel]) -> list[ConfigProblem]:
    """One ConfigProblem per pydantic error, with the key path, the value as written and a fix. ``model``: the
    model ``data`` was validated as; an unknown key's hint lists the keys allowed there."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "str", "list[", "tuple["))]
        key = prefix + _key_path(err["loc"])
        kind = err["type"]
        value = None if kind == "missing" else shown(err.get("input"))
        ctx = err.get("ctx") or {}
        if kind == "config":
            problem, fix = ctx["problem"], ctx["fix"]
        elif kind == "missing":
            problem, fix = "fehlt", f"ergänzen Sie {loc[-1] if loc else 'den Schlüssel'} = ..."
        elif kind == "extra_forbidden":
            problem, fix = "ist kein bekannter Schlüssel", _known_keys(model, data, err["loc"])
        elif kind in ("literal_error", "enum"):
            problem, fix = "ist kein erlaubter Wert", f"erlaubt: {str(ctx.get('expected', '')).replace(' or ', ' oder ')}"
        elif kind in ("string_type",):
            problem, fix = "ist kein Text", "schreiben Sie den Wert in Anführungszeichen"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            problem, fix = "ist keine ganze Zahl", "schreiben Sie eine ganze Zahl ohne Anführungszeichen"
        elif kind in ("bool_type", "bool_parsing"):
            problem, fix = "ist kein Wahrheitswert", "schreiben Sie true oder false"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            problem, fix = "ist keine Tabelle", f"schreiben Sie [{key}] mit den Schlüsseln darunter"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            problem, fix = err["msg"].replace("Input should be", "muss").replace("greater than or equal to",
                                                                                 "mindestens").replace(
                "less than or equal to", "höchstens"), "korrigieren Sie den Wert"
        elif kind in ("too_short", "too_long"):
            problem, fix = "hat zu wenige oder zu viele Einträge", err["msg"]
        else:
            problem, fix = err["msg"], "korrigieren Sie den Wert"
        out.append(ConfigProblem(file=file, key=key, value=value, problem=problem, fix=fix))
    return out


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif str(p).startswith(("function-", "str", "list[", "tuple[", "literal[")):
            continue
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def shown(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _known_keys(root: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> str:
    """'remove it' with the keys allowed where it stands in ``root`` (and the one probably meant)."""
    model = _model_at(root, loc[:-1], data)
    if model is None:
        return "entfernen Sie den Schlüssel"
    known = [k for k in model.model_fields if k not in ("id", "source", "base_dir")]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"meinten Sie {close[0]!r}? " if close else ""
    return f"{hint}entfernen oder korrigieren Sie ihn; erlaubt sind: {', '.join(known)}"


def _model_at(model: Any, loc: tuple[Any, ...], data: Any) -> Any:
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(str(part))
        if field is None:  # a dict key (department id, account id)
            continue
        model = _model_of(field.annotation)
    return model


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


class Strict(BaseModel):
    """A table of the configuration: unknown keys are mistakes, and a loaded configuration does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
