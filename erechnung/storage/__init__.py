"""Storage: one port (:class:`Storage`), two adapters (a folder, an S3 bucket), chosen by URL.

``open_storage("/srv/erechnung")``, ``open_storage("file:///srv/erechnung")`` and
``open_storage("s3://bucket/prefix?endpoint_url=http://127.0.0.1:9000&object_lock=COMPLIANCE")``. boto3 is
imported only when an ``s3://`` URL is opened.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from .base import (REFUSALS, Entry, InvalidKeyError, ObjectNotFoundError, ObjectTooLargeError, RefusedEntryError,
                   RetainedError, Storage, StorageError, StorageUnreachableError, check_key)
from .local import LocalStorage

__all__ = ["Storage", "LocalStorage", "StorageError", "InvalidKeyError", "ObjectNotFoundError", "RetainedError",
           "RefusedEntryError", "ObjectTooLargeError", "StorageUnreachableError", "Entry", "REFUSALS", "check_key", "open_storage"]


def open_storage(url: str | Path, *, shared: bool = False, s3_options: dict[str, str] | None = None) -> Storage:
    """The storage a URL names: a path or ``file://`` URL (a folder) or ``s3://bucket[/prefix][?options]``
    (options: ``endpoint_url``, ``region``, ``object_lock`` = COMPLIANCE | GOVERNANCE). ``shared``: a folder
    whose group (the department) reads what is written there (drop zones); otherwise files are private.
    ``s3_options``: defaults for an ``s3://`` URL's options (the configuration's ``[s3]``, see
    ``erechnung.config.s3``; also ``aws_access_key_id`` and ``aws_secret_access_key``); the URL's own win."""
    if isinstance(url, Path):
        return LocalStorage(url, shared=shared)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"{url}: an s3:// URL names a bucket (s3://bucket/prefix)")
        from .s3 import from_url  # boto3 only here

        return from_url(parts.netloc, unquote(parts.path).strip("/"),
                        {**(s3_options or {}), **dict(parse_qsl(parts.query))})
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{url}: file URLs name a local folder (file:///path)")
        return LocalStorage(unquote(parts.path), shared=shared)
    if parts.scheme == "" or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):  # a path (or C:\...)
        return LocalStorage(url, shared=shared)
    raise ValueError(f"{url}: unknown storage URL (use a path, file:///path or s3://bucket/prefix)")
