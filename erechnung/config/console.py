"""The console's section of the configuration (issue 14): ``[console]`` and its local accounts.

    [console]
    base_url = "http://127.0.0.1:8080"     # https://... makes the session cookie Secure
    session_secret_env = "ERECHNUNG_CONSOLE_SECRET"   # or session_secret_file = "..." (never the secret here)
    trusted_header = "X-Remote-User"       # off by default: single sign-on behind a reverse proxy
    trusted_proxies = ["127.0.0.1"]        # the header counts only from these addresses
    session_minutes = 480

    [[console.users]]
    name = "kasse"
    password_hash = "scrypt$16384$8$1$<salt hex>$<hash hex>"   # erechnung console hash-password
    role = "finance"                       # department | finance | auditor | admin (erechnung.model.access.Role)
    departments = []                       # for role "department": the departments this clerk works for

Passwords are checked by ``erechnung.entrypoints.console.auth``; here only the hash's shape is checked, so that
a plain-text password in the file is a configuration mistake.
"""
from __future__ import annotations

import re
from ipaddress import ip_address

from pydantic import Field, field_validator, model_validator

from ..model.access import Role
from .problems import Strict

#: ``scrypt$n$r$p$salt$hash``: scrypt parameters, then salt and derived key in hex.
PASSWORD_HASH = re.compile(r"^scrypt\$\d{1,8}\$\d{1,3}\$\d{1,3}\$[0-9a-f]{16,128}\$[0-9a-f]{32,256}$")
USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")


class ConsoleUser(Strict):
    name: str
    password_hash: str | None = None  # None: only through the trusted header
    role: Role
    departments: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not USER_NAME.match(v):
            raise ValueError("ein Benutzername besteht aus 1 bis 100 Zeichen A-Z, a-z, 0-9, . _ @ -")
        return v

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, v: str | None) -> str | None:
        if v is not None and not PASSWORD_HASH.match(v):
            raise ValueError("password_hash ist kein scrypt-Hash (scrypt$n$r$p$salt$hash); erzeugen mit "
                             "'erechnung console hash-password'")
        return v

    @model_validator(mode="after")
    def _departments(self) -> "ConsoleUser":
        if self.role is Role.DEPARTMENT and not self.departments:
            raise ValueError(f"Benutzer {self.name}: die Rolle 'department' braucht departments = [\"...\"]")
        return self


class ConsoleSection(Strict):
    base_url: str = "http://127.0.0.1:8080"
    session_secret_env: str | None = None
    session_secret_file: str | None = None
    session_minutes: int = Field(480, gt=0, le=24 * 60)
    trusted_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    users: tuple[ConsoleUser, ...] = ()

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", v):
            raise ValueError("base_url ist eine http(s)-Adresse, z. B. https://erechnung.musterstadt.de")
        return v.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for address in v:
            ip_address(address)  # ValueError names the address
        return v

    @model_validator(mode="after")
    def _unique(self) -> "ConsoleSection":
        names = [u.name for u in self.users]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"Benutzer mehrfach angelegt: {', '.join(twice)}")
        if self.trusted_header and not self.trusted_proxies:
            raise ValueError("trusted_header braucht trusted_proxies (die Adressen des Reverse Proxy)")
        return self

    @property
    def secure(self) -> bool:
        return self.base_url.startswith("https://")

    def user(self, name: str) -> ConsoleUser | None:
        return next((u for u in self.users if u.name == name), None)


def console_link(config: object, path: str) -> str | None:
    """``{base_url}/{path}`` of the console's page for reports and Prefect artifacts, when the configuration sets
    up the console (has a ``[console]`` section; its ``base_url`` or the default), else None: then a report says
    where a file lies instead of linking to a console nobody runs. Read defensively (``getattr``)."""
    console = getattr(config, "console", None)
    fields_set = getattr(config, "model_fields_set", None)
    if console is None or (fields_set is not None and "console" not in fields_set):
        return None
    base = getattr(console, "base_url", None)
    if not base:
        return None
    return f"{str(base).rstrip('/')}/{path.lstrip('/')}"
