"""Delivery of handed-over documents: routing (which channels, in which order), the delivery service
(retries, fallback, dead letters, tracking), the legal dates of notices and the audit trail.

Domain modules (``routing``, ``notification``) do no I/O; ``service`` speaks to the channels only through
``mailbox_connectors.base`` and to the state database through SQLAlchemy sessions.
"""
