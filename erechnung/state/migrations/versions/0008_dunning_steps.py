"""The dunning stages sent (issue 15): ``dunning_steps``, once per (item, level), with the fee, the
Säumniszuschlag and the inputs of their computation (``erechnung.state.receivables_schema.DunningStepRow``).

Revision ID: 0008_dunning_steps
Revises: 0007_receivables
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid

revision = "0008_dunning_steps"
down_revision = "0007_receivables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dunning_steps",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=80), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("surcharge_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["open_items.id"], name=op.f("fk_dunning_steps_item_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dunning_steps")),
        sa.UniqueConstraint("item_id", "level", name="uq_dunning_steps_item_level"),
    )
    op.create_index(op.f("ix_dunning_steps_item_id"), "dunning_steps", ["item_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dunning_steps_item_id"), table_name="dunning_steps")
    op.drop_table("dunning_steps")
