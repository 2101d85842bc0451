"""Issue 12: a channel is declared once, in ``mailbox_connectors.registry``. Every ``Channel`` has exactly one
entry; an entry with an adapter has its settings table (the class the configuration's ``[delivery.<channel>]``
key validates with) and a sandbox; the adapters' capabilities are their entries'; ``open_connectors`` builds
exactly the configured channels through the registry; Peppol, routed without an adapter, is refused by the
configuration as before.

(This folder has no ``__init__.py`` on purpose: as a package it would be named ``mailbox_connectors`` and hide the
real one.)
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import get_args

import pytest

from erechnung.config import ConfigError, load_config
from erechnung.config.channels import DeliverySection
from erechnung.entrypoints.demo.pipeline import config_text
import erechnung.entrypoints.wiring as wiring
from erechnung.entrypoints.wiring import open_connectors
from erechnung.model.delivery import Channel
from erechnung.model.recipients import CHANNEL_ADDRESS
import mailbox_connectors.sandboxes.site as site_module
from mailbox_connectors.registry import CHANNELS, ChannelSandbox, entry
from mailbox_connectors.sandboxes.site import SandboxSite

#: The keys of ``[delivery]`` that are not a channel's table.
NOT_CHANNELS = {"land", "notice_group", "legal", "key_prefix", "journal_dir", "lease_seconds", "batch_size", "retry",
                "include", "portals", "service_officer"}


def _settings_class(key: str) -> type:
    annotation = DeliverySection.model_fields[key].annotation
    classes = [a for a in (get_args(annotation) or (annotation,)) if a is not type(None)]
    assert len(classes) == 1, (key, annotation)
    return classes[0]


def test_every_channel_has_exactly_one_entry():
    counts = Counter(e.channel for e in CHANNELS)
    assert set(counts) == set(Channel) and set(counts.values()) == {1}, counts
    for channel in Channel:
        assert entry(channel).channel is channel and entry(channel.value) is entry(channel)


def test_every_entry_with_an_adapter_has_its_settings_table_and_a_sandbox():
    for e in CHANNELS:
        if e.build is None:
            assert e.settings is None and e.sandbox is None, e.channel
            continue
        assert e.settings is not None and e.sandbox is not None, e.channel
        assert _settings_class(e.key) is e.settings, (e.key, e.settings)
    channel_tables = set(DeliverySection.model_fields) - NOT_CHANNELS
    assert channel_tables == {e.key for e in CHANNELS if e.settings is not None}


def test_an_entry_names_the_address_its_channel_needs():
    assert {e.channel: e.address for e in CHANNELS} == CHANNEL_ADDRESS


def test_peppol_has_its_table(tmp_path):
    peppol = entry(Channel.PEPPOL)
    assert peppol.build is not None and peppol.sandbox is not None and peppol.address == ("leitweg_id", "peppol_id")
    table = ('\n[delivery.peppol]\nsml_zone = "sml.example"\nsender_id = "9930:DE123456789"\nap_seat = "PDE000001"\n'
             'ap_cert = "ap.crt"\nap_key = "ap.key"\ntrust = "trust.pem"\nnameservers = ["127.0.0.1:5353"]\n')
    cfg = load_config(_config(tmp_path, table))
    assert cfg.delivery.peppol.nameservers == ["127.0.0.1:5353"]
    with pytest.raises(ConfigError, match="participant"):  # a key the table does not have
        load_config(_config(tmp_path, table + 'participant = "0204:991-33333TEST-33"\n'))
    with pytest.raises(ConfigError, match="host:port"):
        load_config(_config(tmp_path, table.replace('"127.0.0.1:5353"', '"127.0.0.1"')))


def _config(root: Path, extra: str = "") -> Path:
    """The demo's configuration without the sandbox include (only its own [delivery.print]), plus ``extra``."""
    text = config_text(root)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("include = "))
    path = root / "config.toml"
    path.write_text(text.replace("[delivery.print]", extra + "\n[delivery.print]"), encoding="utf-8")
    return path


def test_a_postbox_whose_receipt_is_the_provision_says_so_in_its_entry(tmp_path):
    extra = ('\n[delivery.bundid]\nvia = "zbp"\nsender = "Stadt Musterstadt"\n'
             '[delivery.bundid.zbp]\nbase_url = "https://127.0.0.1:9"\nclient_cert = "zbp.crt"\n'
             'client_key = "zbp.key"\n')
    with open_connectors(load_config(_config(tmp_path, extra)), only=("print",)) as wired:
        assert wired.delivery_config.provision_on_receipt == frozenset({"bundid"})  # ZBP direct: 201 = provided


def _recording(build, channel, built):
    def record(settings, setup):
        built.append(channel)
        return build(settings, setup)
    return record


def test_the_sandbox_site_starts_stops_and_points_at_the_sandbox_of_every_entry(tmp_path, monkeypatch):
    events: list[str] = []

    class Server:
        def __init__(self, name: str) -> None:
            self.name = name

        def start(self) -> Server:
            events.append(f"start {self.name}")
            return self

        def stop(self) -> None:
            events.append(f"stop {self.name}")

    def sandbox(name: str) -> ChannelSandbox:
        def start(site):
            site.started(Server(name))
            return {name: {"url": f"https://{name}.example", "secret_file": str(site.secret(name, b"s"))}}
        return ChannelSandbox(start, lambda site: {name.upper(): f"https://{name}.example"})

    fake = (replace(entry(Channel.EMAIL), sandbox=sandbox("one")), replace(entry(Channel.PEPPOL), sandbox=None),
            replace(entry(Channel.PRINT), sandbox=sandbox("two")))
    monkeypatch.setattr(site_module, "CHANNELS", fake)
    with SandboxSite(tmp_path / "sbx") as site:
        assert events == ["start one", "start two"]
        assert site.endpoints() == {"ONE": "https://one.example", "TWO": "https://two.example"}
        text = site.delivery_toml.read_text(encoding="utf-8")
        assert text.index("[one]") < text.index("[two]") and 'url = "https://two.example"' in text
        assert (site.root / "secrets/one").stat().st_mode & 0o077 == 0
    assert events[2:] == ["stop two", "stop one"]
