"""``erechnung console --config C [--host 127.0.0.1] [--port 8080]``: the web console for the departments, finance
(Stadtkasse) and auditors (issue 14), server-rendered (Starlette + Jinja2, autoescaped), in German, without
JavaScript and under a strict Content-Security-Policy.

* ``auth``: passwords (scrypt), roles and what each may (``PERMISSIONS``), CSRF tokens;
* ``app``: the pages (``create_app``); every page that shows a department's data checks the user may see that
  department (404 otherwise), every POST checks the session's CSRF token (403 otherwise);
* ``runs``: one pipeline run per department at a time, in a background thread.

The console reads and changes state only through the domain functions (``erechnung.state``,
``erechnung.delivery.actions``, ``erechnung.pipeline``, the archive, ``erechnung.view``).
"""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
