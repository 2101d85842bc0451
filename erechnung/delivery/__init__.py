"""Delivery of handed-over documents: routing (which channels, in which order), planning, sending with retries,
fallback and dead letters, tracking, the legal dates of notices and the audit trail.

    plan_deliveries(sf, config, now=now)          # plan: handed-over documents -> their first delivery (queued)
    deliver_due(sf, connectors, now, config=...)  # send: claim, send, record receipt; retry, fall back
    track(sf, connectors, now, config=...)        # track: status events, deadlines, notification dates

``config`` (how the service retries, leases, keys), ``content`` (what a channel is handed), ``plan``, ``send``
(and there: exactly once, per delivery), ``fallback`` (the next channel, dead letters), ``track``,
``legal_dates``; ``routing`` and ``notification`` do no I/O. The service speaks to the channels only through
``mailbox_connectors.base`` and to the state database through SQLAlchemy sessions and the SQL of
``erechnung.state.deliveries``; every state change is appended to the hash-chained ``delivery_events``
(``audit``) in the same transaction.
"""
