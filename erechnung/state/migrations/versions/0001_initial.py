"""The first schema: runs, batches, documents, records, quarantine, number ranges, archive index, recipients.

Written out in full (no import of erechnung.state.schema), so that this migration stays what it was when the
schema changes later. Timestamps are TIMESTAMP WITH TIME ZONE (PostgreSQL) / naive UTC (SQLite), as
erechnung.state.schema.UTCDateTime reads and writes them.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('number_ranges',
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=64), nullable=False),
        sa.Column('next_value', sa.BigInteger(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.CheckConstraint('next_value >= 1', name=op.f('ck_number_ranges_next_value')),
        sa.PrimaryKeyConstraint('department', 'prefix', name=op.f('pk_number_ranges'))
    )
    op.create_table('recipients',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('ref', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=True),
        sa.Column('data', JSON, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recipients')),
        sa.UniqueConstraint('department', 'ref', name=op.f('uq_recipients_department_ref'))
    )
    op.create_table('runs',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('started_at', TIMESTAMP, nullable=False),
        sa.Column('finished_at', TIMESTAMP, nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('counts', JSON, nullable=False),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed')", name=op.f('ck_runs_status')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('batches',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('source_key', sa.String(length=1024), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('received_at', TIMESTAMP, nullable=False),
        sa.Column('claimed_at', TIMESTAMP, nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('lease_until', TIMESTAMP, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('finished_at', TIMESTAMP, nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.Column('record_count', sa.Integer(), nullable=False),
        sa.Column('documented_count', sa.Integer(), nullable=False),
        sa.Column('quarantined_count', sa.Integer(), nullable=False),
        sa.Column('document_count', sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('claimed', 'done', 'failed')", name=op.f('ck_batches_status')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_batches_run_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_batches')),
        sa.UniqueConstraint('department', 'sha256', name=op.f('uq_batches_department_sha256'))
    )
    op.create_index(op.f('ix_batches_status_lease_until'), 'batches', ['status', 'lease_until'])
    op.create_table('documents',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('idempotency_key', sa.String(length=300), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('number', sa.String(length=100), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('format', sa.String(length=20), nullable=False),
        sa.Column('recipient_ref', sa.String(length=200), nullable=True),
        sa.Column('issue_date', sa.Date(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('verdict', sa.String(length=20), nullable=True),
        sa.Column('report_sha256', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('batch_id', BIG_ID, nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.Column('archived_at', TIMESTAMP, nullable=True),
        sa.Column('handed_over_at', TIMESTAMP, nullable=True),
        sa.CheckConstraint("format IN ('ubl', 'cii', 'zugferd', 'notice_pdf', 'passthrough')", name=op.f('ck_documents_format')),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note', 'notice')", name=op.f('ck_documents_kind')),
        sa.CheckConstraint("state IN ('numbered', 'rendered', 'rejected', 'archived', 'handed_over')", name=op.f('ck_documents_state')),
        sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_documents_batch_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
        sa.UniqueConstraint('department', 'number', name=op.f('uq_documents_department_number')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_documents_idempotency_key'))
    )
    op.create_index(op.f('ix_documents_batch_id'), 'documents', ['batch_id'])
    op.create_table('quarantine',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('batch_id', BIG_ID, nullable=False),
        sa.Column('row', sa.Integer(), nullable=True),
        sa.Column('column', sa.String(length=200), nullable=True),
        sa.Column('value', sa.Text(), nullable=True),
        sa.Column('problem', sa.Text(), nullable=False),
        sa.Column('fix', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_quarantine_batch_id'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    op.create_index(op.f('ix_quarantine_batch_id'), 'quarantine', ['batch_id'])
    op.create_table('archive_items',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('department', sa.String(length=64), nullable=False),
        sa.Column('media_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('document_id', BIG_ID, nullable=True),
        sa.Column('batch_id', BIG_ID, nullable=True),
        sa.Column('retention_until', TIMESTAMP, nullable=False),
        sa.Column('archived_at', TIMESTAMP, nullable=False),
        sa.Column('meta', JSON, nullable=False),
        sa.CheckConstraint("kind IN ('original_batch', 'document', 'report', 'error_report')", name=op.f('ck_archive_items_kind')),
        sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_archive_items_batch_id')),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_archive_items_document_id')),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_archive_items'))
    )
    op.create_index(op.f('ix_archive_items_batch_id'), 'archive_items', ['batch_id'])
    op.create_index(op.f('ix_archive_items_document_id'), 'archive_items', ['document_id'])
    op.create_table('records',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('batch_id', BIG_ID, nullable=False),
        sa.Column('row_first', sa.Integer(), nullable=False),
        sa.Column('row_last', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('document_id', BIG_ID, nullable=True),
        sa.Column('reason', JSON, nullable=True),
        sa.CheckConstraint("status IN ('documented', 'quarantined')", name=op.f('ck_records_status')),
        sa.CheckConstraint('row_last >= row_first', name=op.f('ck_records_rows')),
        sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_records_batch_id'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_records_document_id')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_records')),
        sa.UniqueConstraint('batch_id', 'row_first', name=op.f('uq_records_batch_id_row_first'))
    )
    op.create_index(op.f('ix_records_document_id'), 'records', ['document_id'])


def downgrade() -> None:
    for table in ("records", "archive_items", "quarantine", "documents", "batches", "runs", "recipients",
                  "number_ranges"):
        op.drop_table(table)  # their indexes go with them
