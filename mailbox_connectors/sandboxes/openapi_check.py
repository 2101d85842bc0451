"""Checks an HTTP request against an OpenAPI 3.0 description (here: the staged FIT-Connect Submission API).

A small checker over the YAML: path templates and methods, path and query parameters, the ``security``
requirement (a Bearer token must be present), the request body (required or not, its content type, and its
schema, validated by openapi-schema-validator's OAS 3.0 validator with the spec's ``$ref``s resolved).
openapi-core would do the same, but it pins older openapi-schema-validator/-spec-validator releases than the
project has, and at ~0.1 ms per request this checker keeps the sandbox fast enough for the benchmark.

``check`` returns the matched :class:`Operation` or raises :class:`NotConforming` whose ``status`` is 400 (or
415 for a content type the operation does not take, where the operation documents 415; 401 when the security
requirement is not met) and whose ``reason`` names the part of the request that is wrong.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import openapi_schema_validator as oas
import referencing
import referencing.jsonschema
import yaml
from jsonschema.exceptions import best_match

__all__ = ["NotConforming", "OpenApiChecker", "Operation", "SPEC_DIR", "submission_api"]

#: The staged FIT-Connect specification (OpenAPI + metadata schema) is read where it is published for this
#: project (``../shared/specs/fit-connect`` beside the repository), never from a committed copy;
#: ``ERECHNUNG_FITCONNECT_SPEC_DIR`` points elsewhere.
SPEC_DIR = Path(os.environ.get("ERECHNUNG_FITCONNECT_SPEC_DIR")
                or Path(__file__).resolve().parents[3] / "shared" / "specs" / "fit-connect")
_SPEC_URI = "urn:openapi:spec"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class NotConforming(Exception):
    """The request does not follow the OpenAPI description."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str  # the path as written in the spec: /v1/submissions/{submissionId}
    params: dict[str, str] = field(default_factory=dict)  # path parameters of this request
    query: dict[str, Any] = field(default_factory=dict)  # query parameters, converted to their types
    body: Any = None  # the parsed body: JSON value, or text for application/jose


class OpenApiChecker:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        resource = referencing.Resource.from_contents(dict(spec),
                                                      default_specification=referencing.jsonschema.DRAFT4)
        self._registry = referencing.Registry().with_resource(_SPEC_URI, resource)
        self._validators: dict[str, oas.OAS30Validator] = {}
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in (spec.get("paths") or {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")
            self._routes.append((pattern, template, item))
        # literal paths win over templated ones (/v1/destinations before /v1/destinations/{id})
        self._routes.sort(key=lambda r: r[1].count("{"))

    @classmethod
    def from_file(cls, path: Path) -> OpenApiChecker:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    # ---- helpers -------------------------------------------------------------------------------------------
    def _resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"external $ref {ref} not supported")
            node = self.spec
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _validator(self, schema: Mapping[str, Any]) -> oas.OAS30Validator:
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = self._validators.get(key)
        if validator is None:
            # $refs inside the schema point into the spec: validate a reference to the schema's own copy
            validator = oas.OAS30Validator({"allOf": [_rebase(schema)]}, registry=self._registry,
                                           format_checker=oas.oas30_format_checker)
            self._validators[key] = validator
        return validator

    def validate(self, schema: Mapping[str, Any], value: Any, where: str) -> None:
        error = best_match(self._validator(schema).iter_errors(value))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            raise NotConforming(f"{where}{' at ' + at if at else ''}: {error.message}")

    def schema(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    # ---- the check -----------------------------------------------------------------------------------------
    def check(self, method: str, path: str, *, query: str = "", headers: Mapping[str, str] | None = None,
              body: bytes = b"") -> Operation:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        method = method.lower()
        for pattern, template, item in self._routes:
            match = pattern.match(path)
            if match:
                break
        else:
            raise NotConforming(f"{method.upper()} {path}: no such path in the API")
        op = item.get(method)
        if op is None:
            allowed = ", ".join(m.upper() for m in _METHODS if m in item)
            raise NotConforming(f"{method.upper()} {template}: method not in the API (only {allowed})")
        params = [self._resolve(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
        path_params = match.groupdict()
        for p in params:
            if p["in"] == "path":
                self.validate(p.get("schema", {}), path_params.get(p["name"]), f"path parameter {p['name']}")
        query_values = self._check_query(params, query)
        for p in params:
            if p["in"] == "header" and p.get("required") and p["name"].lower() not in headers:
                raise NotConforming(f"header {p['name']} is required")
        self._check_security(op, headers)
        parsed = self._check_body(op, headers, body)
        return Operation(op.get("operationId", ""), method.upper(), template, path_params, query_values, parsed)

    def _check_query(self, params: list[dict[str, Any]], query: str) -> dict[str, Any]:
        given = parse_qs(query, keep_blank_values=True)
        known = {p["name"]: p for p in params if p["in"] == "query"}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise NotConforming(f"query parameter(s) {', '.join(unknown)} not defined for this operation")
        values: dict[str, Any] = {}
        for name, p in known.items():
            if name not in given:
                if p.get("required"):
                    raise NotConforming(f"query parameter {name} is required")
                continue
            if len(given[name]) > 1:
                raise NotConforming(f"query parameter {name} given more than once")
            raw, schema = given[name][0], p.get("schema", {})
            value: Any = raw
            if schema.get("type") == "integer":
                try:
                    value = int(raw)
                except ValueError:
                    raise NotConforming(f"query parameter {name}: {raw!r} is not an integer") from None
            self.validate(schema, value, f"query parameter {name}")
            values[name] = value
        return values

    def _check_security(self, op: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        requirements = op.get("security", self.spec.get("security"))
        if not requirements:
            return
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotConforming("this operation requires OAuth2: an 'Authorization: Bearer <token>' header",
                                status=401)

    def _check_body(self, op: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> Any:
        request_body = self._resolve(op.get("requestBody")) if op.get("requestBody") else None
        if request_body is None:
            if body:
                raise NotConforming("this operation takes no request body")
            return None
        if not body:
            if request_body.get("required"):
                raise NotConforming("a request body is required")
            return None
        content = request_body.get("content", {})
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in content:
            status = 415 if "415" in op.get("responses", {}) else 400
            raise NotConforming(f"content type {media or '(none)'} not accepted here (only {', '.join(content)})",
                                status=status)
        if media == "application/json" or media.endswith("+json"):
            try:
                value: Any = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                raise NotConforming("the request body is not valid JSON") from None
        else:
            try:
                value = body.decode("utf-8")
            except UnicodeDecodeError:
                raise NotConforming(f"the {media} body is not UTF-8 text") from None
        schema = content[media].get("schema")
        if schema:
            self.validate(schema, value, "request body")
        return value


def _rebase(node: Any) -> Any:
    """Point the schema's local ``#/...`` references at the registered spec."""
    if isinstance(node, Mapping):
        return {k: (_SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


_SUBMISSION_API: OpenApiChecker | None = None


def submission_api() -> OpenApiChecker:
    """The checker for the staged FIT-Connect Submission API 1.1.3 (parsed once per process)."""
    global _SUBMISSION_API
    if _SUBMISSION_API is None:
        _SUBMISSION_API = OpenApiChecker.from_file(SPEC_DIR / "fitconnect-submission-api-1.1.3.yaml")
    return _SUBMISSION_API
