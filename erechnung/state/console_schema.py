"""The console's access log (migration ``0006_console_access``, issue 14): who read which document's personal
data, and who signed in, on the same metadata as ``schema``.

* ``console_access``: append-only, one row per access: when (``at``), who (``user_name``, ``role``), what
  (``action``: ``document_viewed``, ``file_downloaded``, ``login``, ``login_failed``, ...), of which document or
  batch, the path asked for and the client's address. No code updates or deletes a row.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .schema import Base, BigId, UTCDateTime, utcnow


class ConsoleAccess(Base):
    __tablename__ = "console_access"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Optional[str]] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("documents.id"))
    batch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("batches.id"))
    path: Mapped[str] = mapped_column(String(500))
    remote: Mapped[Optional[str]] = mapped_column(String(100))

    __table_args__ = (Index("ix_console_access_document_id_at", "document_id", "at"),)
