"""A document's business identity (issue 11, a corrected file never bills twice): ``document_identities`` holds
per (department, identity) the document made for it and the sha256 and content of the record it was made from.

Revision ID: 0004_document_identities
Revises: 0003_batch_poison
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004_document_identities"
down_revision = "0003_batch_poison"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_identities",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=500), nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_document_identities_document_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_identities")),
        sa.UniqueConstraint("department", "identity", name=op.f("uq_document_identities_department_identity")),
    )
    op.create_index(op.f("ix_document_identities_document_id"), "document_identities", ["document_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_document_identities_document_id"), table_name="document_identities")
    op.drop_table("document_identities")
