"""Corrections of documents (issue 11, ``[identity] on_change = "correct"``): ``document_corrections`` holds per
(department, identity, revision) the document replaced, the credit note that cancelled it and the document that
took its place, so that the trail of a correction stays readable after ``document_identities`` moved on, and the
correction's drafts (``parts``) from which its documents are rebuilt should the work area be lost.

Revision ID: 0005_document_corrections
Revises: 0004_document_identities
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0005_document_corrections"
down_revision = "0004_document_identities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_corrections",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=500), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("replaced_document_id", BIG_ID, nullable=False),
        sa.Column("credit_note_document_id", BIG_ID, nullable=True),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("parts", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["replaced_document_id"], ["documents.id"],
                                name=op.f("fk_document_corrections_replaced_document_id")),
        sa.ForeignKeyConstraint(["credit_note_document_id"], ["documents.id"],
                                name=op.f("fk_document_corrections_credit_note_document_id")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_document_corrections_document_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_corrections")),
        sa.UniqueConstraint("department", "identity", "revision",
                            name=op.f("uq_document_corrections_department_identity_revision")),
    )
    op.create_index(op.f("ix_document_corrections_replaced_document_id"), "document_corrections",
                    ["replaced_document_id"])
    op.create_index(op.f("ix_document_corrections_document_id"), "document_corrections", ["document_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_document_corrections_document_id"), table_name="document_corrections")
    op.drop_index(op.f("ix_document_corrections_replaced_document_id"), table_name="document_corrections")
    op.drop_table("document_corrections")
