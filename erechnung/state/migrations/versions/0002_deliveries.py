"""Delivery tracking: deliveries, delivery_events (hash-chained, append-only), delivery_chain (the chain's
head), notification_dates (computed Bekanntgabe with its inputs), dead_letters.

Written out in full (no import of erechnung.state.delivery_schema), so that this migration stays what it was.

Revision ID: 0002_deliveries
Revises: 0001
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
STATES = ("queued", "sending", "sent", "delivered", "retrieved", "deemed_notified", "failed", "expired",
          "fell_back")

revision = "0002_deliveries"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deliveries',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=False),
        sa.Column('document_id', BIG_ID, nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('hop', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('address_ref', sa.String(length=500), nullable=False),
        sa.Column('address', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('legal_basis', sa.String(length=40), nullable=True),
        sa.Column('land', sa.String(length=2), nullable=True),
        sa.Column('route', JSON, nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', TIMESTAMP, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('lease_until', TIMESTAMP, nullable=True),
        sa.Column('channel_message_id', sa.String(length=300), nullable=True),
        sa.Column('notification_only', sa.Boolean(), nullable=False),
        sa.Column('sent_at', TIMESTAMP, nullable=True),
        sa.Column('delivered_at', TIMESTAMP, nullable=True),
        sa.Column('retrieved_at', TIMESTAMP, nullable=True),
        sa.Column('deadline_at', TIMESTAMP, nullable=True),
        sa.Column('finished_at', TIMESTAMP, nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATES) + ")",
                           name=op.f('ck_deliveries_state')),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_deliveries_attempts')),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_deliveries_document_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_deliveries_idempotency_key')),
        sa.UniqueConstraint('document_id', 'sequence', name=op.f('uq_deliveries_document_id_sequence'))
    )
    op.create_index(op.f('ix_deliveries_document_id'), 'deliveries', ['document_id'])
    op.create_index(op.f('ix_deliveries_state_next_attempt_at'), 'deliveries', ['state', 'next_attempt_at'])
    op.create_index(op.f('ix_deliveries_channel_channel_message_id'), 'deliveries',
                    ['channel', 'channel_message_id'])
    op.create_table('delivery_events',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('delivery_id', BIG_ID, nullable=False),
        sa.Column('document_id', BIG_ID, nullable=False),
        sa.Column('from_state', sa.String(length=20), nullable=True),
        sa.Column('to_state', sa.String(length=20), nullable=False),
        sa.Column('at', TIMESTAMP, nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('channel_event_id', sa.String(length=300), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('detail', JSON, nullable=False),
        sa.Column('evidence', sa.LargeBinary(), nullable=True),
        sa.Column('evidence_type', sa.String(length=100), nullable=True),
        sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_events_delivery_id')),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_delivery_events_document_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_events')),
        sa.UniqueConstraint('seq', name=op.f('uq_delivery_events_seq')),
        sa.UniqueConstraint('hash', name=op.f('uq_delivery_events_hash')),
        sa.UniqueConstraint('delivery_id', 'channel_event_id', name=op.f('uq_delivery_events_delivery_id_channel_event_id'))
    )
    op.create_index(op.f('ix_delivery_events_delivery_id'), 'delivery_events', ['delivery_id'])
    op.create_index(op.f('ix_delivery_events_document_id'), 'delivery_events', ['document_id'])
    op.create_table('delivery_chain',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_chain'))
    )
    op.create_table('notification_dates',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('document_id', BIG_ID, nullable=False),
        sa.Column('delivery_id', BIG_ID, nullable=False),
        sa.Column('legal_basis', sa.String(length=40), nullable=False),
        sa.Column('land', sa.String(length=2), nullable=True),
        sa.Column('start_event', sa.String(length=30), nullable=False),
        sa.Column('provision_at', TIMESTAMP, nullable=True),
        sa.Column('notification_sent_at', TIMESTAMP, nullable=True),
        sa.Column('retrieved_at', TIMESTAMP, nullable=True),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('earlier_retrieval_wins', sa.Boolean(), nullable=False),
        sa.Column('shift_to_working_day', sa.Boolean(), nullable=False),
        sa.Column('calendar', sa.String(length=100), nullable=False),
        sa.Column('calendar_version', sa.String(length=40), nullable=False),
        sa.Column('rules_sha256', sa.String(length=64), nullable=False),
        sa.Column('inputs', JSON, nullable=False),
        sa.Column('computed_date', sa.Date(), nullable=False),
        sa.Column('explanation', sa.Text(), nullable=False),
        sa.Column('computed_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_notification_dates_delivery_id')),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_notification_dates_document_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_dates')),
        sa.UniqueConstraint('delivery_id', name=op.f('uq_notification_dates_delivery_id'))
    )
    op.create_index(op.f('ix_notification_dates_document_id'), 'notification_dates', ['document_id'])
    op.create_table('dead_letters',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('document_id', BIG_ID, nullable=False),
        sa.Column('delivery_id', BIG_ID, nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('resolved_at', TIMESTAMP, nullable=True),
        sa.Column('resolution', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_dead_letters_delivery_id')),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_dead_letters_document_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
        sa.UniqueConstraint('document_id', name=op.f('uq_dead_letters_document_id'))
    )


def downgrade() -> None:
    for table in ("dead_letters", "notification_dates", "delivery_chain", "delivery_events", "deliveries"):
        op.drop_table(table)  # their indexes go with them
