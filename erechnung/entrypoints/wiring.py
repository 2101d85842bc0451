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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erechnung.config.channels import DeliverySection
from erechnung.delivery.config import delivery_config
from erechnung.errors import ErechnungError

from mailbox_connectors._journal import Journal
from mailbox_connectors.base import MailboxConnector

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
        return section.with_included(data.get("delivery", data))
    except ValueError as exc:
        raise ChannelConfigError(f"delivery.include: {path}: {exc}") from None


def open_connectors(config: Any, *, only: tuple[str, ...] | None = None, worker: str | None = None) -> Wired:
    """Connectors for every channel the configuration (an ``erechnung.config.Config``) sets up (or ``only``)."""
    section = effective_section(config)
    base = Path(config.base_dir)
    wired = Wired(section)
    journals = _path(base, section.journal_dir)
    assert journals is not None
    try:
        for name in section.channels():
            if only is not None and name not in only:
                continue
            if name != "print" and name != "email":
                journals.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: whom we wrote to
            wired.connectors[name] = _connector(name, section, base, journals)
    except BaseException:
        wired.close()
        raise
    dc = delivery_config(section, worker=worker)
    if section.bundid is not None and section.bundid.via == "zbp":
        from dataclasses import replace

        dc = replace(dc, provision_on_receipt=frozenset({"bundid"}))  # ZBP's 201: stored in the postbox
    wired.delivery_config = dc
    return wired


def _connector(name: str, s: DeliverySection, base: Path, journals: Path) -> MailboxConnector:
    if name == "email":
        from mailbox_connectors.email import EmailConnector, EmailSettings

        e = s.email
        assert e is not None
        kw: dict[str, Any] = {}
        if e.max_bytes is not None:
            kw["max_bytes"] = e.max_bytes
        return EmailConnector(EmailSettings(
            host=e.host, port=e.port, sender=e.sender, sender_name=e.sender_name, reply_to=e.reply_to,
            username=e.username, password_env=e.password_env,
            password_file=_file(base, e.password_file, "email.password_file") if e.password_file else None,
            ca_file=_file(base, e.ca_file, "email.ca_file") if e.ca_file else None, require_tls=e.require_tls,
            timeout=e.timeout_seconds, request_dsn=e.request_dsn,
            bounce_maildir=_path(base, e.bounce_maildir), **kw))
    if name == "bundid":
        from mailbox_connectors.bundid import AuthorIdentity, BundIdBridgeConnector, BundIdSettings, ZbpDirectConnector, ZbpSettings

        b = s.bundid
        assert b is not None
        settings = BundIdSettings(sender=b.sender, service=b.service,
                                  retrieval_confirmation_address=b.retrieval_confirmation_address,
                                  confirmations_maildir=_path(base, b.confirmations_maildir), max_bytes=b.max_bytes)
        if b.via == "zbp":
            z = b.zbp
            assert z is not None
            return ZbpDirectConnector(ZbpSettings(
                base_url=z.base_url, client_cert=_file(base, z.client_cert, "bundid.zbp.client_cert"),
                client_key=_file(base, z.client_key, "bundid.zbp.client_key"),
                tls_ca=_file(base, z.tls_ca, "bundid.zbp.tls_ca") if z.tls_ca else None),
                settings, journal=Journal(journals / "bundid-zbp.jsonl"))
        assert b.fitconnect is not None and b.author_cert and b.author_key and b.bridge_destination_id
        author = AuthorIdentity.from_files(_file(base, b.author_cert, "bundid.author_cert"),
                                           _file(base, b.author_key, "bundid.author_key"))
        return BundIdBridgeConnector(_fit_settings(b.fitconnect, base, "bundid.fitconnect"), settings, author,
                                     bridge_destination_id=b.bridge_destination_id,
                                     journal=Journal(journals / "bundid-fitconnect.jsonl"))
    if name == "elster":
        from mailbox_connectors.elster import ElsterConnector, ElsterSettings

        el = s.elster
        assert el is not None
        return ElsterConnector(ElsterSettings(
            base_url=el.base_url, api_token=_secret(base, el.api_token_env, el.api_token_file, "elster.api_token"),
            tls_ca=_file(base, el.tls_ca, "elster.tls_ca") if el.tls_ca else None, timeout=el.timeout_seconds,
            max_bytes=el.max_bytes), journal=Journal(journals / "elster.jsonl"))
    if name == "print":
        from mailbox_connectors.print import PrintConnector, PrintSettings

        p = s.print
        outbox = _path(base, p.outbox)
        assert outbox is not None
        return PrintConnector(PrintSettings(outbox=outbox, cover_sheets=p.cover_sheets, duplex=p.duplex,
                                            return_address=p.return_address))
    raise ChannelConfigError(f"delivery: no connector for channel {name!r}")


def _fit_settings(f: Any, base: Path, key: str):
    from mailbox_connectors.fitconnect_client import FitConnectSettings

    return FitConnectSettings(
        submission_url=f.submission_url, token_url=f.token_url, client_id=f.client_id,
        client_secret=_secret(base, f.client_secret_env, f.client_secret_file, f"{key}.client_secret"),
        trust_roots=_file(base, f.trust_roots, f"{key}.trust_roots").read_bytes(),
        tls_ca=_file(base, f.tls_ca, f"{key}.tls_ca") if f.tls_ca else None, timeout=f.timeout_seconds)


def open_archive(config_path: Path):
    """The configuration's archive (location and retention policy)."""
    from erechnung.archive import Archive, RetentionPolicy
    from erechnung.config import load_config, location_url
    from erechnung.storage import open_storage

    config = load_config(config_path)
    return Archive(open_storage(location_url(config, config.archive.location)),
                   RetentionPolicy.configured(config.archive.retention_years))
