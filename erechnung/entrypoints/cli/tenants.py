"""``erechnung --tenant ID [--installation FILE] <command>`` and ``erechnung tenants [--json]`` (issue 16).

With ``--tenant`` every command that takes ``--config`` works on that municipality's configuration (and so on
its database, for the commands that take ``--db`` or read it from the configuration); an explicit ``--config``
still wins, and without ``--tenant`` nothing changes. ``--tenant`` may also follow the command
(``erechnung run --tenant ID``): ``tenant_options_first`` moves it (and ``--installation``) before it.

``erechnung tenants`` lists the installation's municipalities with configuration, database, archive and whether
each may run (OK) or what is wrong (its configuration's mistakes, a place it shares with another); exit 0 when
all are OK, 1 when one is not, 2 when the installation file itself is wrong.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import click
import typer

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
#: The root options that may also be written after the command (each takes one value).
ROOT_OPTIONS = ("--tenant", "--installation")


def tenant_options_first(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--tenant X`` / ``--tenant=X`` / ``--installation F`` moved to the front (they belong to
    the root command); everything after ``--`` stays where it is."""
    front: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in ROOT_OPTIONS and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        if arg.split("=", 1)[0] in ROOT_OPTIONS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _config_defaults(command: click.Command, config: str) -> dict[str, Any]:
    """A click ``default_map`` giving every command (and subcommand) with a ``config`` parameter ``config``."""
    out: dict[str, Any] = {}
    if any(p.name == "config" for p in command.params):
        out["config"] = config
    for name, sub in getattr(command, "commands", {}).items():
        inner = _config_defaults(sub, config)
        if inner:
            out[name] = inner
    return out


def use_tenant(ctx: click.Context, tenant_id: Optional[str], installation: Optional[Path]) -> dict[str, Any]:
    """The root callback's part: with ``--tenant`` the tenant's configuration becomes the default of every
    ``--config`` below (``ctx.default_map``, so that what is given on the command line wins). Returns
    ``ctx.obj``: the installation path and, with ``--tenant``, the ``Tenant``."""
    obj: dict[str, Any] = {"installation": installation, "tenant": None}
    if tenant_id is None:
        return obj
    from ...config import ConfigError
    from ...config.tenants import UnknownTenant, load_installation

    try:
        tenant = load_installation(installation).tenant(tenant_id)
    except (ConfigError, UnknownTenant) as exc:
        click.echo(f"Fehler: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    ctx.default_map = {**(ctx.default_map or {}), **_config_defaults(ctx.command, str(tenant.config_path))}
    obj["tenant"] = tenant
    return obj


def tenant_folders(ctx: click.Context, config: Path) -> tuple[Optional[Path], Optional[Path]]:
    """The work and report folders of ``--tenant`` for a run on its configuration (None, None: the defaults)."""
    tenant = (ctx.find_root().obj or {}).get("tenant")
    if tenant is None or Path(config).resolve() != tenant.config_path:
        return None, None
    return tenant.work_dir, tenant.report_dir


def _row(tenant, result, problems: list[str]) -> dict[str, Any]:
    from ...config import Config, location_url
    from ...config.tenants import shown_database

    loaded = isinstance(result, Config)
    return {"tenant": tenant.id, "name": tenant.name, "config": str(tenant.config_path),
            "database": shown_database(result) if loaded else None,
            "schema": result.database.schema_name if loaded else None,
            "archive": location_url(result, result.archive.location) if loaded else None,
            "work_dir": str(tenant.work_dir), "report_dir": str(tenant.report_dir),
            "ok": not problems, "problems": problems}


def run_tenants(installation: Optional[Path], *, as_json: bool = False, out=None) -> int:
    from ...config import ConfigError
    from ...config.tenants import load_installation

    out = out or sys.stdout
    try:
        inst = load_installation(installation)
    except ConfigError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return EXIT_USAGE
    check = inst.check()
    rows = [_row(t, check.configs[t.id], check.problems_of(t.id)) for t in inst.tenants.values()]
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), file=out)
    else:
        print(f"Installation {inst.path}{f' ({inst.name})' if inst.name else ''}: {len(rows)} Kommune(n)", file=out)
        for row in rows:
            print(f"\n{row['tenant']}: {row['name']} - {'OK' if row['ok'] else 'FEHLERHAFT'}", file=out)
            print(f"  Konfiguration: {row['config']}", file=out)
            if row["database"] is not None:
                schema = f" (Schema {row['schema']})" if row["schema"] else ""
                print(f"  Datenbank:     {row['database']}{schema}", file=out)
                print(f"  Archiv:        {row['archive']}", file=out)
            for problem in row["problems"]:
                print(f"  Fehler: {problem}", file=out)
            for hint in check.hints_of(row["tenant"]):
                print(f"  Hinweis: {hint}", file=out)
    return EXIT_BROKEN if not check.ok else EXIT_OK
