"""Official notices (Bescheide): model, assessment per notice kind, PDF/A-3 letter, embedded payment claim, seal.

``NoticeDraft`` (from a specialised procedure, as JSON) -> ``assess`` -> ``Notice`` -> ``render_notice`` (PDF/A-3
with the XRechnung claim where payment is due) -> optionally ``seal_pdf`` (PAdES).
"""
from .calculator import assess
from .model import Notice, NoticeDraft, NoticeError, NoticeKind

__all__ = ["Notice", "NoticeDraft", "NoticeError", "NoticeKind", "assess"]
