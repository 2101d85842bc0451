"""The chunks of a run that any machine may work on (issue 16): ``work_chunks``, each with its document ids, its
lease (holder, lease_until), every holder that claimed it and what it did
(``erechnung.state.work_chunks.WorkChunk``).

Revision ID: 0009_work_chunks
Revises: 0008_dunning_steps
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid

revision = "0009_work_chunks"
down_revision = "0008_dunning_steps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_chunks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("document_ids", JSON, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("holders", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'running', 'done')", name=op.f("ck_work_chunks_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_chunks")),
    )
    op.create_index("ix_work_chunks_run_state", "work_chunks", ["run_id", "state", "seq"])


def downgrade() -> None:
    op.drop_index("ix_work_chunks_run_state", table_name="work_chunks")
    op.drop_table("work_chunks")
