"""A small thread-safe HTTP/1.1 client for the FIT-Connect client: the standard library's ``http.client`` on
pooled keep-alive connections, TLS verified with the given context (certificate chain and host name).

Why not httpx: per request httpx and httpcore run some 1,500 Python calls (URL and header models, h11's state
machine, traces, auth and redirect hooks): ~1.1 ms CPU per request on this machine, against ~0.4 ms for
``http.client``; a FIT-Connect delivery makes three requests and its tracking one more. What is used of it here
is small: one base URL, JSON or bytes bodies, no redirects, no cookies.

A connection is reused only when idle in the pool and not readable (a readable idle socket means the server
closed it or sent something unasked: it is closed instead), as httpcore does; a response that says ``Connection:
close`` (or HTTP/1.0) closes its connection. Errors are the standard library's: ``TimeoutError`` (``socket.timeout``)
for a timeout, ``ssl.SSLError`` for a refused TLS handshake, other ``OSError`` and ``http.client.HTTPException``
for lost connections and broken answers. Nothing here logs.
"""
from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = ["HttpClient", "HttpResponse", "TransportError"]

#: What a request raises when no answer came: the caller maps it (timeout, TLS refusal, lost connection).
TransportError = (OSError, http.client.HTTPException)


class Headers(dict):
    """Response headers by lower-case name (a repeated header: its values joined by ``, ``)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)


class HttpResponse:
    __slots__ = ("content", "headers", "method", "path", "reason_phrase", "status_code")

    def __init__(self, status_code: int, reason_phrase: str, headers: Headers, content: bytes, method: str,
                 path: str) -> None:
        self.status_code, self.reason_phrase, self.headers = status_code, reason_phrase, headers
        self.content, self.method, self.path = content, method, path

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<HttpResponse {self.method} {self.path} -> {self.status_code}>"


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection with its own connect timeout (TCP and TLS handshake) beside the read timeout."""

    def __init__(self, host: str, port: int | None, *, context: ssl.SSLContext, timeout: float,
                 connect_timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = self._context.wrap_socket(sock, server_hostname=self.host)  # verifies chain and host name
        except BaseException:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        self.sock = sock


class _PlainConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.timeout)


def _idle_and_open(conn: http.client.HTTPConnection) -> bool:
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class HttpClient:
    """Requests on pooled keep-alive connections (thread-safe; a connection serves one request at a time)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None, timeout: float, connect_timeout: float,
                 max_idle: int = 32) -> None:
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout, self.connect_timeout, self.max_idle = timeout, connect_timeout, max_idle
        self._idle: dict[tuple[str, str, int | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _take(self, origin: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if _idle_and_open(conn):
                return conn
            conn.close()
        scheme, host, port = origin
        if scheme == "https":
            return _Connection(host, port, context=self.ssl_context, timeout=self.timeout,
                               connect_timeout=self.connect_timeout)
        return _PlainConnection(host, port, timeout=self.timeout, connect_timeout=self.connect_timeout)

    def _give(self, origin: tuple[str, str, int | None], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self._closed and sum(len(c) for c in self._idle.values()) < self.max_idle:
                idle.append(conn)
                return
        conn.close()

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, content: bytes | None = None,
                json: Any = None, data: dict[str, str] | None = None,
                params: dict[str, Any] | None = None) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        sent = dict(headers or {})
        body = content
        if json is not None:
            body = _json_bytes(json)
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            body = urlencode(data).encode("ascii")
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        target = parts.path or "/"
        query = "&".join(q for q in (parts.query, urlencode(params) if params else "") if q)
        if query:
            target += "?" + query
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        origin = (parts.scheme, parts.hostname, parts.port)
        conn = self._take(origin)
        try:
            conn.request(method, target, body=body, headers=sent)
            response = conn.getresponse()
            payload = response.read()
        except BaseException:
            conn.close()
            raise
        answer = Headers()
        for name, value in response.getheaders():
            key = name.lower()
            answer[key] = f"{dict.__getitem__(answer, key)}, {value}" if dict.__contains__(answer, key) else value
        if response.will_close:
            conn.close()
        else:
            self._give(origin, conn)
        return HttpResponse(response.status, response.reason, answer, payload, method, parts.path or "/")

    def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> HttpResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> HttpResponse:
        return self.request("PUT", url, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
