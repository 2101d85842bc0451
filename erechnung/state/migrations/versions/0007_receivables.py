"""The Stadtkasse's books (issue 15): ``open_items``, ``posted_documents``, ``bank_entries`` (``entry_key``
unique), ``allocations`` and ``clarification_decisions`` (``erechnung.state.receivables_schema``).

Revision ID: 0007_receivables
Revises: 0006_console_access
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

revision = "0007_receivables"
down_revision = "0006_console_access"
branch_labels = None
depends_on = None

ITEM_STATES = ("open", "partially_paid", "paid", "overpaid", "in_dunning", "written_off")
ALLOCATION_KINDS = ("end_to_end", "reference", "suggestion", "reversal", "none", "manual")
POST_EFFECTS = ("items", "reduced", "replaced", "none")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "open_items",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("kassenzeichen", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("debtor_ref", sa.String(length=200), nullable=False),
        sa.Column("debtor_name", sa.String(length=300), nullable=False),
        sa.Column("debtor_iban", sa.String(length=34), nullable=True),
        sa.Column("instalment", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("account_iban", sa.String(length=34), nullable=False),
        sa.Column("mandate_id", sa.String(length=35), nullable=True),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("deferred_until", sa.Date(), nullable=True),
        sa.Column("taxes_or_levies", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("dunning_level", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(_in("state", ITEM_STATES), name=op.f("ck_open_items_state")),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_open_items_amount")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_open_items_document_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_items")),
        sa.UniqueConstraint("document_id", "instalment", name=op.f("uq_open_items_document_id_instalment")),
    )
    op.create_index("ix_open_items_kassenzeichen", "open_items", ["kassenzeichen"])
    op.create_table(
        "posted_documents",
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("effect", sa.String(length=20), nullable=False),
        sa.Column("target_document_id", BIG_ID, nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("export_name", sa.String(length=300), nullable=True),
        sa.Column("posted_at", TS, nullable=False),
        sa.CheckConstraint(_in("effect", POST_EFFECTS), name=op.f("ck_posted_documents_effect")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name=op.f("fk_posted_documents_document_id")),
        sa.ForeignKeyConstraint(["target_document_id"], ["documents.id"],
                                name=op.f("fk_posted_documents_target_document_id")),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_posted_documents")),
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_key", sa.String(length=300), nullable=False),
        sa.Column("account_iban", sa.String(length=34), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("statement_id", sa.String(length=200), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("match_kind", sa.String(length=20), nullable=True),
        sa.Column("unallocated_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("open_clarification", sa.Boolean(), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entries")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_bank_entries_entry_key")),
    )
    op.create_index("ix_bank_entries_open_clarification", "bank_entries", ["open_clarification"])
    op.create_table(
        "allocations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("booked_at", TS, nullable=False),
        sa.Column("booked_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(_in("kind", ALLOCATION_KINDS), name=op.f("ck_allocations_kind")),
        sa.ForeignKeyConstraint(["entry_id"], ["bank_entries.id"], name=op.f("fk_allocations_entry_id")),
        sa.ForeignKeyConstraint(["item_id"], ["open_items.id"], name=op.f("fk_allocations_item_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    op.create_index("ix_allocations_entry_id", "allocations", ["entry_id"])
    op.create_index("ix_allocations_item_id", "allocations", ["item_id"])
    op.create_table(
        "clarification_decisions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("item_id", BIG_ID, nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("decision", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["bank_entries.id"],
                                name=op.f("fk_clarification_decisions_entry_id")),
        sa.ForeignKeyConstraint(["item_id"], ["open_items.id"], name=op.f("fk_clarification_decisions_item_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarification_decisions")),
    )
    op.create_index("ix_clarification_decisions_entry_id", "clarification_decisions", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_clarification_decisions_entry_id", table_name="clarification_decisions")
    op.drop_table("clarification_decisions")
    op.drop_index("ix_allocations_item_id", table_name="allocations")
    op.drop_index("ix_allocations_entry_id", table_name="allocations")
    op.drop_table("allocations")
    op.drop_index("ix_bank_entries_open_clarification", table_name="bank_entries")
    op.drop_table("bank_entries")
    op.drop_table("posted_documents")
    op.drop_index("ix_open_items_kassenzeichen", table_name="open_items")
    op.drop_table("open_items")
