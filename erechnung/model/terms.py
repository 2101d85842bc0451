"""Field helpers that tag every model field with its EN 16931 business term (BT-/BG- id).

Readers, writers, the calculator and error messages all name a field by its term, so a reader who knows
EN 16931 finds their way without a map: ``Invoice.model_fields["number"].json_schema_extra["term"] == "BT-1"``.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_REQUIRED: Any = ...


class Frozen(BaseModel):
    """Immutable, strict-shaped base of every model class (collections are tuples)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        validate_default=False,
    )

    @classmethod
    def term_of(cls, field: str) -> str:
        """The business term id (``BT-27``) of ``field``."""
        extra = cls.model_fields[field].json_schema_extra or {}
        return str(extra.get("term", field))


def bt(term: str, name: str, default: Any = _REQUIRED, **kwargs: Any) -> Any:
    """A field that holds business term ``term`` (e.g. ``BT-27``, 'Seller name')."""
    return Field(default, description=f"{term} {name}", json_schema_extra={"term": term, "term_name": name}, **kwargs)


def bg(term: str, name: str, default: Any = _REQUIRED, **kwargs: Any) -> Any:
    """A field that holds business group ``term`` (e.g. ``BG-5``, 'Seller postal address')."""
    return Field(default, description=f"{term} {name}", json_schema_extra={"term": term, "term_name": name}, **kwargs)


def terms_of(model: type[BaseModel]) -> dict[str, str]:
    """Map field name -> term id for a model class."""
    return {name: str((f.json_schema_extra or {}).get("term", "")) for name, f in model.model_fields.items()}
