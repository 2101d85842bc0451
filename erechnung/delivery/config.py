"""How the delivery service works for one installation: retries (:class:`RetryPolicy`), the claim's lease, the
idempotency keys' prefix, the Land and notice group of the legal dates, the worker (:class:`DeliveryConfig`), as
:func:`delivery_config` makes them from the configuration's ``[delivery]`` section."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from erechnung.config.channels import DeliverySection, Portal
from erechnung.model.codes import LANDS
from erechnung.state.leases import worker_id

from .consent import ConsentRules
from .notification import LegalRuleError, LegalRules


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * 2**(n-1)`` (at most ``cap``), of which the
    ``jitter`` fraction is random; ``max_attempts`` sends per delivery before the next channel takes over."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 5
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None) -> timedelta:
        full = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(attempt - 1, 0))
        wait = full * (1 - self.jitter) + full * self.jitter * (rng or random).random()
        if retry_after is not None:
            wait = max(wait, float(retry_after))
        return timedelta(seconds=wait)


def default_worker() -> str:
    """This process as the holder of its claims (``host:pid:tag``, the form every lease of the project uses)."""
    return worker_id()


@dataclass(frozen=True)
class DeliveryConfig:
    retry: RetryPolicy = RetryPolicy()
    lease: timedelta = timedelta(minutes=5)
    key_prefix: str = "erechnung"  # one per installation: channels see the key (Message-ID, ENVID, references)
    land: str | None = None  # the authority's Land: holidays and Land rules of the legal dates
    notice_group: str = "default"  # legal.toml notice_bases group of the municipality's notices
    rules: LegalRules = field(default_factory=LegalRules.load)
    #: whether a notice may take an electronic channel: the consent model per legal basis (``consent.toml``)
    consent: ConsentRules = field(default_factory=ConsentRules.load)
    worker: str = field(default_factory=default_worker)
    batch_size: int = 20
    #: channels whose receipt is the provision in the postbox (no separate "delivered" event)
    provision_on_receipt: frozenset[str] = frozenset()
    #: the invoice portals of public bodies (``[[delivery.portals]]``), in the configuration's order
    portals: tuple[Portal, ...] = ()

    def __post_init__(self) -> None:
        if self.land is not None and self.land not in LANDS:
            raise LegalRuleError(f"land {self.land!r} is not the code of a German Land: use one of "
                                 f"{' '.join(LANDS)} (configuration [delivery] land)")


def delivery_config(section: DeliverySection, *, worker: str | None = None) -> DeliveryConfig:
    """The delivery service's settings from the configuration's ``[delivery]`` section."""
    r = section.retry
    kw: dict[str, Any] = dict(
        retry=RetryPolicy(base=timedelta(seconds=r.base_seconds), cap=timedelta(seconds=r.cap_seconds),
                          max_attempts=r.max_attempts, jitter=r.jitter),
        lease=timedelta(seconds=section.lease_seconds), key_prefix=section.key_prefix, land=section.land,
        notice_group=section.notice_group, batch_size=section.batch_size, portals=tuple(section.portals))
    if worker:
        kw["worker"] = worker
    return DeliveryConfig(**kw)
