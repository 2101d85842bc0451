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
* nothing is followed out of the root (a drop zone is the department's folder, and may hold anything): every
  path is walked one folder at a time from the root with ``O_NOFOLLOW | O_DIRECTORY`` (``openat`` with
  ``dir_fd``), so a symbolic link at any depth of a key is refused (:class:`RefusedEntryError`), never read,
  written or deleted through; an object is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO cannot block the
  reader) and ``fstat``-ed: only a regular file is read, and at most ``max_bytes + 1`` of it. Links are made
  and entries removed relative to those folder descriptors, so a folder swapped for a link meanwhile is not
  followed either. The root itself is the operator's configuration and is trusted as given.
* private: files are created 0600 and the folders the adapter creates 0700 (archive objects and error reports
  hold personal data). A claimed file keeps its own mode (it is the department's file, linked, not copied).

POSIX only (``dir_fd``, ``O_NOFOLLOW``).
"""
from __future__ import annotations

import errno
import os
import stat
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .base import (Entry, ObjectNotFoundError, ObjectTooLargeError, RefusedEntryError, RetainedError, Storage,
                   StorageError, aware_utc, check_key, check_prefix, key_problem, retention_date)

_TMP, _RETENTION = ".tmp", ".retention"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | _CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
#: Private (the archive, the work area): only the pipeline's user reads what it keeps.
FILE_MODE, FOLDER_MODE = 0o600, 0o700
#: Shared with the department (a drop zone): its group reads the error reports written for it (the drop zone's
#: folder carries the department's group, setgid, so new files inherit it); others read nothing.
SHARED_FILE_MODE, SHARED_FOLDER_MODE = 0o640, 0o750
_CHUNK = 1 << 20


def _kind(mode: int) -> str | None:
    """The refusal for an entry of this ``st_mode`` (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    return "link" if stat.S_ISLNK(mode) else "special"


class LocalStorage(Storage):
    """Objects as files under ``root`` (created when missing)."""

    def __init__(self, root: str | os.PathLike[str], *, shared: bool = False) -> None:
        self.root = Path(root).absolute()
        self.url = self.root.as_uri()
        self.file_mode, self.folder_mode = (SHARED_FILE_MODE, SHARED_FOLDER_MODE) if shared else (FILE_MODE,
                                                                                                  FOLDER_MODE)
        self.root.mkdir(mode=self.folder_mode, parents=True, exist_ok=True)
        with self._folder([_TMP], _TMP, create=True):
            pass

    # -- walking -------------------------------------------------------------------------------------------
    @contextmanager
    def _folder(self, segments: list[str], key: str, *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder ``root/segments...``, each segment opened without following a link
        (RefusedEntryError); missing folders are created (0700) with ``create``, else FileNotFoundError;
        NotADirectoryError when a segment is a file."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        try:
            for i, name in enumerate(segments):
                try:
                    sub = _open_folder(fd, name, create=create, mode=self.folder_mode)
                except RefusedEntryError as exc:
                    raise RefusedEntryError(key, exc.reason, "/".join(segments[:i + 1]) + "/") from None
                os.close(fd)
                fd = sub
            yield fd
        finally:
            os.close(fd)

    def _read(self, segments: list[str], key: str, max_bytes: int | None) -> bytes:
        try:
            with self._folder(segments[:-1], key) as folder:
                try:
                    fd = os.open(segments[-1], _READ_FLAGS, dir_fd=folder)
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise RefusedEntryError(key, "link") from None
                    raise
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(f"{key}: no such object in {self.url}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise ObjectNotFoundError(f"{key}: no such object in {self.url} (a folder)")
            if not stat.S_ISREG(st.st_mode):
                raise RefusedEntryError(key, "special")
            if max_bytes is not None and st.st_size > max_bytes:
                raise ObjectTooLargeError(key, max_bytes, st.st_size)
            chunks, got = [], 0
            while True:  # a file may grow while read: bounded all the same
                chunk = os.read(fd, _CHUNK if max_bytes is None else min(_CHUNK, max_bytes + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
                if max_bytes is not None and got > max_bytes:
                    raise ObjectTooLargeError(key, max_bytes)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _lstat(self, segments: list[str], key: str) -> os.stat_result | None:
        """The entry itself (a link is not followed), or None when there is none."""
        try:
            with self._folder(segments[:-1], key) as folder:
                return os.stat(segments[-1], dir_fd=folder, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None

    # -- reading -------------------------------------------------------------------------------------------
    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        return self._read(check_key(key).split("/"), key, max_bytes)

    def exists(self, key: str) -> bool:
        try:
            st = self._lstat(check_key(key).split("/"), key)
        except RefusedEntryError:
            return False
        return st is not None and stat.S_ISREG(st.st_mode)

    def entries(self, prefix: str = "") -> Iterator[Entry]:
        check_prefix(prefix)
        head = prefix.rpartition("/")[0]  # start at the deepest folder the prefix names completely
        found: list[Entry] = []
        try:
            with self._folder(head.split("/") if head else [], prefix) as fd:
                _scan(fd, head + "/" if head else "", prefix, found)
        except (FileNotFoundError, NotADirectoryError):
            return iter(())
        except RefusedEntryError as exc:  # a folder of the prefix is a link: that is what lies there
            return iter([Entry(exc.detail.rstrip("/"), None, "link", "a folder")])
        return iter(sorted(found, key=lambda e: e.key))

    def retention(self, key: str) -> datetime | None:
        try:
            text = self._read([_RETENTION, *check_key(key).split("/")], key, 64).decode("ascii").strip()
        except ObjectNotFoundError:
            return None
        return aware_utc(datetime.fromisoformat(text))

    def _check_not_retained(self, key: str) -> None:
        until = self.retention(key)
        if until is not None and until > datetime.now(timezone.utc) and self.exists(key):
            raise RetainedError(key, until)

    # -- writing -------------------------------------------------------------------------------------------
    def _temp_file(self, tmp: int, data: bytes) -> str:
        """``data`` in a new private file in ``.tmp/`` (descriptor ``tmp``), fsynced; its name there."""
        name = f"{uuid.uuid4().hex}.part"
        fd = os.open(name, _WRITE_FLAGS, self.file_mode, dir_fd=tmp)
        try:
            write_durably(fd, data)
        finally:
            os.close(fd)
        return name

    def _place(self, segments: list[str], key: str, data: bytes, *, exclusive: bool) -> bool:
        """Write ``data`` at ``segments`` atomically (``exclusive``: only if nothing is there)."""
        try:
            with self._folder(segments[:-1], key, create=True) as folder, \
                    self._folder([_TMP], key, create=True) as tmp:
                name = segments[-1]
                part = self._temp_file(tmp, bytes(data))
                try:
                    if exclusive:
                        try:
                            os.link(part, name, src_dir_fd=tmp, dst_dir_fd=folder, follow_symlinks=False)
                        except FileExistsError:
                            return False
                    else:  # rename replaces whatever is there (a link too: never written through)
                        try:
                            os.replace(part, name, src_dir_fd=tmp, dst_dir_fd=folder)
                        except IsADirectoryError:
                            raise StorageError(f"{key}: is a folder of other keys in {self.url}") from None
                finally:
                    try:
                        os.unlink(part, dir_fd=tmp)
                    except FileNotFoundError:
                        pass
                _fsync(folder)
                return True
        except (FileExistsError, NotADirectoryError):
            raise StorageError(f"{key}: a parent of this key is an object in {self.url}") from None

    def _set_retention(self, key: str, until: datetime) -> None:
        until = retention_date(until)
        current = self.retention(key)
        if current is not None and current >= until:
            return  # retention is only ever extended
        self._place([_RETENTION, *key.split("/")], key, until.isoformat().encode("ascii"), exclusive=False)

    def put(self, key: str, data: bytes, *, if_absent: bool = False,
            retention_until: datetime | None = None) -> bool:
        segments = check_key(key).split("/")
        st = self._lstat(segments, key)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise StorageError(f"{key}: is a folder of other keys in {self.url}")
        if if_absent and st is not None:
            return False
        if not if_absent:
            self._check_not_retained(key)
        if retention_until is not None:
            self._set_retention(key, retention_until)
        return self._place(segments, key, data, exclusive=if_absent)

    def delete(self, key: str) -> None:
        self._check_not_retained(key)
        for segments in (check_key(key).split("/"), [_RETENTION, *key.split("/")]):
            try:
                with self._folder(segments[:-1], key) as folder:
                    os.unlink(segments[-1], dir_fd=folder)  # a link is removed itself, never its target
            except (FileNotFoundError, NotADirectoryError):
                pass
            except IsADirectoryError:
                raise StorageError(f"{key}: is a folder of other keys in {self.url}") from None

    def claim(self, key: str, claimed_key: str, *, max_bytes: int | None = None) -> bool:
        src, dst = check_key(key).split("/"), check_key(claimed_key).split("/")
        st = self._lstat(src, key)
        if st is None or stat.S_ISDIR(st.st_mode):
            return False
        refused = _kind(st.st_mode)
        if refused:
            raise RefusedEntryError(key, refused)
        if max_bytes is not None and st.st_size > max_bytes:
            raise ObjectTooLargeError(key, max_bytes, st.st_size)
        self._check_not_retained(key)
        with self._folder(src[:-1], key) as src_dir, self._folder(dst[:-1], claimed_key, create=True) as dst_dir:
            try:
                os.link(src[-1], dst[-1], src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
            except FileNotFoundError:
                return False  # claimed (or deleted) by someone else meanwhile
            except FileExistsError:
                # Someone claimed this file before (a concurrent winner, or our own claim that crashed before
                # unlinking the source): the same inode lies at dst, so removing the source loses nothing.
                try:
                    if os.path.samestat(os.stat(src[-1], dir_fd=src_dir, follow_symlinks=False),
                                        os.stat(dst[-1], dir_fd=dst_dir, follow_symlinks=False)):
                        os.unlink(src[-1], dir_fd=src_dir)
                except FileNotFoundError:
                    pass
                return False
            try:
                os.unlink(src[-1], dir_fd=src_dir)
            except FileNotFoundError:
                pass
            _fsync(dst_dir)
            _fsync(src_dir)
        return True


def _open_folder(parent: int, name: str, *, create: bool, mode: int = FOLDER_MODE) -> int:
    """``name`` in the folder ``parent`` opened as a folder, never through a link (created with ``mode``)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, mode, dir_fd=parent)
        except FileExistsError:
            pass
        return _open_folder(parent, name, create=False)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise RefusedEntryError(name, "link") from None
        raise NotADirectoryError(exc.errno, f"{name} is not a folder") from None


def _scan(fd: int, base: str, prefix: str, out: list[Entry]) -> None:
    """The entries below the folder ``fd`` (whose keys begin with ``base``) that begin with ``prefix``."""
    for name in os.listdir(fd):
        if name.startswith("."):
            continue  # the adapter's own (and what no key may name)
        key = base + name
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if not (key + "/").startswith(prefix) and not prefix.startswith(key + "/"):
                continue
            try:
                sub = _open_folder(fd, name, create=False)
            except FileNotFoundError:
                continue
            except (RefusedEntryError, NotADirectoryError):  # swapped meanwhile: list what is there now
                out.append(Entry(key, None, "link"))
                continue
            try:
                _scan(sub, key + "/", prefix, out)
            finally:
                os.close(sub)
            continue
        if not key.startswith(prefix):
            continue
        problem = key_problem(key)
        if problem is not None:
            if problem[0] != "reserved":
                out.append(Entry(key, None, "name", problem[1]))
            continue
        out.append(Entry(key, st.st_size if stat.S_ISREG(st.st_mode) else None, _kind(st.st_mode)))


def write_durably(fd: int, data: bytes) -> None:
    """All of ``data`` written to the open file ``fd`` (``os.write`` may write less than asked) and fsynced: the
    first half of writing a file complete or not at all (the caller renames it into place)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _fsync(fd: int) -> None:
    """Make a rename/link in the folder ``fd`` durable (no-op where folders cannot be fsynced)."""
    try:
        os.fsync(fd)
    except OSError:
        pass
