"""Who is asking (issue 14): passwords hashed with scrypt (stdlib), the signed-in user as a ``Principal``, what
each role may (``PERMISSIONS``, one table), and the CSRF token of the session.

Hash format: ``scrypt$n$r$p$salt$hash`` (hex), made by ``erechnung console hash-password``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from erechnung.config.console import ConsoleUser
from erechnung.model.access import Role

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
#: The longest password accepted at all (scrypt reads all of it).
MAX_PASSWORD = 1024


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; a missing hash or an oversized password never matches."""
    if not stored or len(password) > MAX_PASSWORD:
        return False
    _, n, r, p, salt, key = stored.split("$")
    got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(key) // 2, maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(got.hex(), key)


#: A hash to check against when the user is unknown, so that the answer takes as long as for a known one.
DUMMY_HASH = hash_password(secrets.token_hex(8))


class Permission(StrEnum):
    UPLOAD = "upload"              # put a file into a department's drop zone
    READ_FILES = "read_files"      # the files taken in, their documents, quarantine and error reports
    READ_DOCUMENTS = "read_documents"  # document pages, visualization, reports, archived originals
    READ_DELIVERIES = "read_deliveries"  # delivery overview, dead letters, print batches
    ACT_ON_DELIVERIES = "act_on_deliveries"  # retry, send on paper, mark delivered
    START_RUNS = "start_runs"      # runs per department, start a run
    VERIFY = "verify"              # audit verify and archive verify, the access log


#: Role -> permissions. A department clerk's permissions hold only for their own departments.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DEPARTMENT: frozenset({Permission.UPLOAD, Permission.READ_FILES, Permission.READ_DOCUMENTS}),
    Role.FINANCE: frozenset({Permission.READ_FILES, Permission.READ_DOCUMENTS, Permission.READ_DELIVERIES,
                             Permission.ACT_ON_DELIVERIES, Permission.START_RUNS}),
    Role.AUDITOR: frozenset({Permission.READ_FILES, Permission.READ_DOCUMENTS, Permission.READ_DELIVERIES,
                             Permission.VERIFY}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    departments: tuple[str, ...]  # of a department clerk; empty for the other roles (they see all)

    @classmethod
    def of(cls, user: ConsoleUser) -> "Principal":
        return cls(user.name, user.role, tuple(user.departments) if user.role is Role.DEPARTMENT else ())

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The departments this user may see, None for all."""
        return self.departments if self.role is Role.DEPARTMENT else None

    def sees(self, department: str | None) -> bool:
        return self.scope is None or department in self.scope


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))
