"""The S3 stand-in of ``erechnung sandbox``: moto's S3-compatible server on loopback, so that a configuration's
``s3://`` drop zones (the example's Ordnungsamt) work without a network.

:func:`start` starts it on a free port of 127.0.0.1 and appends its ``[s3]`` table to the sandboxes'
``delivery.toml`` (the file a configuration names as ``[delivery] include``; ``erechnung.config.s3`` reads it from
there): endpoint, region, an access key id and the secret in ``secrets/s3-secret`` (0600), ``sandbox = true``.
Like every sandbox it keeps everything in memory: buckets and objects are gone when it stops, and its port changes
with every start (``erechnung samples`` creates the buckets again). moto comes with the project's test extras
(``make install``); without it the other sandboxes run and the stand-in is left out, said in German.
"""
from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

REGION = "eu-central-1"
ACCESS_KEY_ID = "erechnung-sandbox"


def start(root: Path, delivery_toml: Path) -> tuple[Any, str]:
    """Start the stand-in; returns (the server, to ``stop()``, its endpoint URL). Raises ImportError without moto."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    secret = root / "secrets" / "s3-secret"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(secrets.token_hex(16), encoding="utf-8")
    secret.chmod(0o600)
    table = ("\n# The S3 stand-in (moto) for s3:// drop zones and archives: erechnung.config.s3 reads this table.\n"
             "[s3]\n"
             f'endpoint_url = "{endpoint}"\n'
             f'region = "{REGION}"\n'
             f'access_key_id = "{ACCESS_KEY_ID}"\n'
             f'secret_access_key_file = "{secret.resolve().as_posix()}"\n'
             "sandbox = true\n")
    with delivery_toml.open("a", encoding="utf-8") as f:
        f.write(table)
    return server, endpoint
