"""The storage port on a local folder.

Layout under the root: every key is a file at ``<root>/<key>``; the adapter's own files live in folders whose
names begin with ``.`` (keys cannot name them): ``.tmp/`` holds files being written, ``.retention/<key>`` the
retention date of a retained object (ISO 8601, UTC).

How the guarantees are kept:

* atomic writes: data goes to a temporary file in ``.tmp/`` (same file system), is fsynced, then becomes
  visible in one step: ``os.replace`` (overwrite) or ``os.link`` (``if_absent``: fails with EEXIST when the key
  exists, so exactly one of concurrent writers wins and nothing is ever overwritten);
* retention is recorded before the object becomes visible and is only ever extended, never shortened; it
  is advisory (enforced by this adapter, not by the file system: a folder is no WORM medium, use S3 Object
  Lock where the retention must hold against administrators too);
* ``claim`` hard-links the source to the claimed key (exclusive like ``if_absent``) and then unlinks the
  source: the one claimer whose link succeeds wins.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .base import (ObjectNotFoundError, RetainedError, Storage, StorageError, aware_utc, check_key, retention_date,
                   check_prefix)

_TMP, _RETENTION = ".tmp", ".retention"


class LocalStorage(Storage):
    """Objects as files under ``root`` (created when missing)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.url = self.root.as_uri()
        (self.root / _TMP).mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _retention_path(self, key: str) -> Path:
        return self.root.joinpath(_RETENTION, *check_key(key).split("/"))

    # -- reading -------------------------------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(f"{key}: no such object in {self.url}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        # start at the deepest folder the prefix names completely
        folder = self.root
        head, _, _ = prefix.rpartition("/")
        if head:
            folder = self.root.joinpath(*head.split("/"))
        if not folder.is_dir():
            return iter(())
        keys = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            keys.extend(base + f for f in filenames if not f.startswith(".") and (base + f).startswith(prefix))
        return iter(sorted(keys))

    def retention(self, key: str) -> datetime | None:
        try:
            text = self._retention_path(key).read_text(encoding="ascii").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return aware_utc(datetime.fromisoformat(text))

    def _check_not_retained(self, key: str) -> None:
        until = self.retention(key)
        if until is not None and until > datetime.now(timezone.utc) and self.exists(key):
            raise RetainedError(key, until)

    # -- writing -------------------------------------------------------------------------------------------
    def _temp_file(self, data: bytes) -> Path:
        tmp = self.root / _TMP / f"{uuid.uuid4().hex}.part"
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def _set_retention(self, key: str, until: datetime) -> None:
        until = retention_date(until)
        current = self.retention(key)
        if current is not None and current >= until:
            return  # retention is only ever extended
        path = self._retention_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._temp_file(until.isoformat().encode("ascii"))
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def put(self, key: str, data: bytes, *, if_absent: bool = False,
            retention_until: datetime | None = None) -> bool:
        path = self._path(key)
        if path.is_dir():
            raise StorageError(f"{key}: is a folder of other keys in {self.url}")
        if if_absent and path.exists():
            return False
        if not if_absent:
            self._check_not_retained(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise StorageError(f"{key}: a parent of this key is an object in {self.url}") from None
        if retention_until is not None:
            self._set_retention(key, retention_until)
        tmp = self._temp_file(bytes(data))
        try:
            if if_absent:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
            else:
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return True

    def delete(self, key: str) -> None:
        self._check_not_retained(key)
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        self._retention_path(key).unlink(missing_ok=True)

    def claim(self, key: str, claimed_key: str) -> bool:
        src, dst = self._path(key), self._path(claimed_key)
        if not src.is_file():
            return False
        self._check_not_retained(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except FileNotFoundError:
            return False  # claimed (or deleted) by someone else meanwhile
        except FileExistsError:
            # Someone claimed this file before (a concurrent winner, or our own claim that crashed before
            # unlinking the source): the same inode lies at dst, so removing the source loses nothing.
            try:
                if os.path.samefile(src, dst):
                    src.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return False
        src.unlink(missing_ok=True)
        _fsync_dir(dst.parent)
        _fsync_dir(src.parent)
        return True


def _fsync_dir(folder: Path) -> None:
    """Make a rename/link in ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
