"""Batches that fail again and again are set aside as poison: ``last_error`` (why the last attempt failed) and
``poison_reason`` (set: the batch was set aside, status ``failed``) on ``batches``.

Revision ID: 0003_batch_poison
Revises: 0002_deliveries
Create Date: 2026-12-10
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_batch_poison"
down_revision = "0002_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batches", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("batches", sa.Column("poison_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("poison_reason")
        batch.drop_column("last_error")
