"""The console's access log (issue 14): ``console_access``, append-only, who read which document's personal data
and who signed in (``erechnung.state.console_schema``).

Revision ID: 0006_console_access
Revises: 0005_document_corrections
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid

revision = "0006_console_access"
down_revision = "0005_document_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_access",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("document_id", BIG_ID, nullable=True),
        sa.Column("batch_id", BIG_ID, nullable=True),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("remote", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_console_access_document_id")),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_console_access_batch_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_access")),
    )
    op.create_index("ix_console_access_document_id_at", "console_access", ["document_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_console_access_document_id_at", table_name="console_access")
    op.drop_table("console_access")
