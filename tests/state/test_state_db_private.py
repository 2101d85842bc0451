"""The SQLite state database holds personal data (names, addresses, IBANs of recipients): the file and its
companions (-wal, -shm, -journal) are created readable by their owner only (0600), and the folder the project
creates for them 0700, whatever the process's umask lets through otherwise (issue 10, smaller finding 1)."""
from __future__ import annotations

import os
import stat

from sqlalchemy import text

from erechnung.state import make_engine, migrate


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_fresh_state_database_and_its_wal_files_are_private(tmp_path):
    old = os.umask(0o022)  # the usual umask: without care the files come out 0644, the folder 0755
    try:
        folder = tmp_path / "var" / "state"
        db = folder / "erechnung.db"
        url = f"sqlite:///{db}"
        migrate(url)
        engine = make_engine(url)
        try:
            with engine.connect() as c:  # an open connection in WAL mode keeps -wal and -shm on disk
                c.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
                companions = [p for p in (folder / "erechnung.db-wal", folder / "erechnung.db-shm") if p.exists()]
                assert companions, "WAL mode should have created -wal/-shm beside the database"
                for path in [db, *companions]:
                    assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}, must be 0o600"
        finally:
            engine.dispose()
        assert _mode(folder) == 0o700, f"the folder created for the database is {oct(_mode(folder))}"
    finally:
        os.umask(old)


def test_rollback_journal_is_private_too(tmp_path):
    old = os.umask(0o022)
    try:
        db = tmp_path / "erechnung.db"
        engine = make_engine(f"sqlite:///{db}")
        raw = engine.raw_connection()  # the driver's connection: our own statements, no BEGIN IMMEDIATE around
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA journal_mode=PERSIST")  # a rollback journal that stays on disk after commit
            cur.execute("CREATE TABLE t (x)")
            journal = tmp_path / "erechnung.db-journal"
            assert journal.exists()
            assert _mode(journal) == 0o600
            assert _mode(db) == 0o600
        finally:
            raw.close()
            engine.dispose()
    finally:
        os.umask(old)


def test_existing_folder_keeps_its_mode(tmp_path):
    """Only a folder the project creates is made private: an operator's existing folder is left as it is."""
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)
    engine = make_engine(f"sqlite:///{folder / 'erechnung.db'}")
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert _mode(folder) == 0o750
    assert _mode(folder / "erechnung.db") == 0o600
