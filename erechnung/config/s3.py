"""``[s3]``: how ``s3://bucket/prefix`` locations (drop zones, the archive) reach their server.

    [s3]
    endpoint_url = "https://s3.rechenzentrum.example"    # default: AWS (boto3's own configuration)
    region = "eu-central-1"
    access_key_id = "erechnung"                          # or AWS_ACCESS_KEY_ID
    secret_access_key_file = "/etc/erechnung/s3-secret"  # never the secret itself; or AWS_SECRET_ACCESS_KEY

Without ``[s3]`` in the configuration, the file named by ``[delivery] include`` may carry one: ``erechnung
sandbox`` starts an S3-compatible stand-in on loopback beside the delivery sandboxes and writes its ``[s3]``
table there (``sandbox = true``), so the example configuration's S3 drop zone works without a network. Nothing
given at all: boto3's usual sources (``AWS_*``, ``ERECHNUNG_S3_ENDPOINT_URL``, profiles) decide.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .problems import Strict


class S3Section(Strict):
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key_file: str | None = None  # a file holding the secret (mode 0600), relative to its TOML file
    sandbox: bool = False  # the stand-in of `erechnung sandbox`: missing buckets may be created for sample files


def s3_section(config: Any) -> tuple[S3Section | None, Path]:
    """The ``[s3]`` in effect and the folder its relative paths are relative to: the configuration's own, else
    the one of the ``[delivery] include`` file (when that file exists and has one), else None."""
    own = getattr(config, "s3", None)
    if own is not None:
        return own, Path(config.base_dir)
    include = getattr(getattr(config, "delivery", None), "include", None)
    if include:
        path = config.path(include)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):  # the delivery wiring reports a missing or broken include
            return None, Path(config.base_dir)
        if isinstance(data.get("s3"), dict):
            return S3Section.model_validate(data["s3"]), path.parent
    return None, Path(config.base_dir)


def s3_options(config: Any) -> dict[str, str]:
    """The options :func:`erechnung.storage.open_storage` takes for ``s3://`` locations (``endpoint_url``,
    ``region``, ``aws_access_key_id``, ``aws_secret_access_key``), from :func:`s3_section`; empty without one."""
    section, base = s3_section(config)
    if section is None:
        return {}
    out = {"endpoint_url": section.endpoint_url, "region": section.region,
           "aws_access_key_id": section.access_key_id}
    if section.secret_access_key_file:
        secret = Path(section.secret_access_key_file)
        out["aws_secret_access_key"] = (secret if secret.is_absolute() else base / secret).read_text(
            encoding="utf-8").strip()
    return {k: v for k, v in out.items() if v}
