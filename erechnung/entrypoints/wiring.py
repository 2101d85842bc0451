"""The composition root: what the configuration names, opened and wired for the command line, the demos and the
flows. Domain and service code get these handed in and never open them themselves.

``open_connectors(config)``  the connectors the configuration's ``[delivery]`` section names, ready to send::

    with open_connectors(config) as wired:
        deliver_due(sf, wired.connectors, config=wired.delivery_config, content=...)

``open_archive(path)``       the configuration's archive (location and retention policy).

Secrets are read here, once, from the environment variable or the file the section names; a missing secret or
file stops with :class:`ChannelConfigError` naming the key and what to do. Every postbox adapter keeps its
journal (what it sent, per delivery id) as a JSON-lines file under ``journal_dir``, so a restarted worker answers
a repeated send with the first receipt.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from erechnung.config.channels import DeliverySection
from erechnung.delivery.config import delivery_config
from erechnung.errors import ErechnungError

from mailbox_connectors._journal import Journal
from mailbox_connectors.base import MailboxConnector
from mailbox_connectors.registry import CHANNELS

__all__ = ["ChannelConfigError", "Wired", "effective_section", "open_archive", "open_connectors"]


class ChannelConfigError(ErechnungError, ValueError):
    """A delivery channel cannot be set up from the configuration (missing secret, unreadable file...)."""


@dataclass
class Wired:
    """The configured connectors by channel name, the service's settings, and what to close at the end."""

    section: DeliverySection
    connectors: dict[str, MailboxConnector] = field(default_factory=dict)
    delivery_config: Any = None

    def close(self) -> None:
        for c in self.connectors.values():
            try:
                c.close()
            except Exception:  # noqa: BLE001 - closing one must not keep the others open
                pass

    def __enter__(self) -> Wired:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _path(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(value)
    return p if p.is_absolute() else base / p


def _file(base: Path, value: str, key: str) -> Path:
    p = _path(base, value)
    assert p is not None
    if not p.is_file():
        raise ChannelConfigError(f"delivery: {key} = {value!r}: die Datei {p} fehlt - legen Sie sie an oder "
                                 "korrigieren Sie den Pfad")
    return p


def _secret(base: Path, env: str | None, file: str | None, key: str) -> str:
    if env and os.environ.get(env):
        return os.environ[env]
    if file:
        return _file(base, file, f"{key}_file").read_text(encoding="utf-8").strip()
    raise ChannelConfigError(f"delivery: {key} fehlt - setzen Sie die Umgebungsvariable {env or '(keine)'} oder "
                             f"geben Sie {key}_file an (eine Datei, die nur der Dienst lesen darf)")


def effective_section(config: Any) -> DeliverySection:
    """``config.delivery`` with the tables of its ``include`` file merged in (the file is read here)."""
    section: DeliverySection = config.delivery
    if section.include is None:
        return section
    path = config.path(section.include)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChannelConfigError(f"delivery.include = {section.include!r}: die Datei {path} fehlt - starten Sie "
                                 "die Sandboxen (erechnung sandbox) oder korrigieren Sie den Pfad") from None
    except tomllib.TOMLDecodeError as exc:
        raise ChannelConfigError(f"delivery.include: {path} ist kein gültiges TOML: {exc}") from None
    try:
        tables = data.get("delivery", data)
        # [s3] of the sandboxes' file is the S3 stand-in for s3:// locations (erechnung.config.s3), not a channel
        return section.with_included({k: v for k, v in tables.items() if k != "s3"})
    except ValueError as exc:
        raise ChannelConfigError(f"delivery.include: {path}: {exc}") from None


def open_connectors(config: Any, *, only: tuple[str, ...] | None = None, worker: str | None = None) -> Wired:
    """Connectors for every channel the configuration (an ``erechnung.config.Config``) sets up (or ``only``), each
    built by its entry in ``mailbox_connectors.registry``."""
    section = effective_section(config)
    base = Path(config.base_dir)
    wired = Wired(section)
    journals = _path(base, section.journal_dir)
    assert journals is not None
    setup = _Setup(base, journals, config.design)
    try:
        for entry in CHANNELS:
            settings = entry.configured(section)
            if settings is None or (only is not None and entry.channel not in only):
                continue
            assert entry.build is not None
            wired.connectors[entry.channel] = entry.build(settings, setup)
    except BaseException:
        wired.close()
        raise
    dc = delivery_config(section, worker=worker)
    provision = frozenset(e.channel.value for e in CHANNELS
                          if (s := e.configured(section)) is not None and e.provision_on_receipt(s))
    if provision:
        dc = replace(dc, provision_on_receipt=provision)
    wired.delivery_config = dc
    return wired


@dataclass(frozen=True)
class _Setup:
    """The files, secrets and journals of the channels' factories (``mailbox_connectors.registry.Setup``), read
    relative to the configuration file."""

    base: Path
    journals: Path
    design_of: Callable[[], Any] | None = None  # the configuration's design (Config.design)

    def path(self, value: str | None) -> Path | None:
        return _path(self.base, value)

    def file(self, value: str, key: str) -> Path:
        return _file(self.base, value, key)

    def secret(self, env: str | None, file: str | None, key: str) -> str:
        return _secret(self.base, env, file, key)

    def design(self) -> Any:
        return self.design_of() if self.design_of is not None else None

    def journal(self, name: str) -> Journal:
        self.journals.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: whom we wrote to
        return Journal(self.journals / f"{name}.jsonl")


def open_archive(config_path: Path):
    """The configuration's archive (location and retention policy)."""
    from erechnung.archive import Archive, RetentionPolicy
    from erechnung.config import load_config, location_url
    from erechnung.storage import open_storage

    config = load_config(config_path)
    from erechnung.config.s3 import s3_options

    return Archive(open_storage(location_url(config, config.archive.location), s3_options=s3_options(config)),
                   RetentionPolicy.configured(config.archive.retention_years))
