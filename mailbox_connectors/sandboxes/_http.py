"""The small HTTPS server under every sandbox: stdlib ``http.server`` with TLS (optionally mTLS), one thread per
connection, HTTP/1.1 keep-alive, started on a free loopback port and stopped again, plus failure modes on
command (:class:`Faults`).

A sandbox subclasses :class:`SandboxServer` and implements ``handle(request) -> Response``. Nothing here logs
headers or bodies (they carry tokens and client secrets): the log line is method, path and status.
"""
from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Fault", "Faults", "Request", "Response", "SandboxServer"]

log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes = field(repr=False)
    client_cert_der: bytes | None = field(default=None, repr=False)  # the verified TLS client certificate

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def media_type(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, *, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(value, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def problem(cls, status: int, title: str, detail: str = "", *, headers: dict[str, str] | None = None,
                type_: str = "about:blank") -> Response:
        """RFC 7807 problem details."""
        body: dict[str, Any] = {"type": type_, "title": title, "status": status}
        if detail:
            body["detail"] = detail
        return cls.json(status, body, content_type="application/problem+json", headers=headers)


@dataclass
class Fault:
    kind: str  # "status", "stall", "drop"
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    path: str | None = None  # a path prefix the fault applies to (None: every request)
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return ((self.path is None or path.startswith(self.path))
                and (self.method is None or self.method.upper() == method))


class Faults:
    """Failure modes on command; each planned fault answers the next ``times`` matching requests."""

    def __init__(self) -> None:
        self._planned: deque[Fault] = deque()
        self._lock = threading.Lock()

    def fail(self, status: int = 503, *, times: int = 1, path: str | None = None, method: str | None = None,
             retry_after: float | None = None) -> None:
        """Answer with ``status`` (a 5xx, or a 4xx rejection) instead of handling the request."""
        self._add(Fault("status", times, status, retry_after, path=path, method=method))

    def throttle(self, retry_after: float = 2, *, times: int = 1, path: str | None = None) -> None:
        """Answer 429 Too Many Requests with ``Retry-After``."""
        self._add(Fault("status", times, 429, retry_after, path=path))

    def stall(self, seconds: float, *, times: int = 1, path: str | None = None, method: str | None = None) -> None:
        """Hold the request ``seconds`` before handling it (the client times out first)."""
        self._add(Fault("stall", times, seconds=seconds, path=path, method=method))

    def drop(self, *, times: int = 1, path: str | None = None) -> None:
        """Close the connection without an answer."""
        self._add(Fault("drop", times, path=path))

    def command(self, arg: str) -> None:
        """A fault as the command line names it (``erechnung sandbox --fail <server>:<arg>``): ``503x3`` (a status
        instead of an answer, 3 times), ``429`` (too many requests, Retry-After 2 s), ``stall30`` (no answer for
        30 s), ``drop`` (connection closed without an answer)."""
        if arg == "drop":
            self.drop()
        elif arg.startswith("stall"):
            self.stall(float(arg.removeprefix("stall") or 30))
        else:
            status, _, times = arg.partition("x")
            if status == "429":
                self.throttle(2, times=int(times or 1))
            else:
                self.fail(int(status), times=int(times or 1))

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._planned.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._planned:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._planned.remove(fault)
                    return fault
        return None


class _Headers(dict):
    """Request headers by lower-case name; a repeated header's values joined by ``, `` (RFC 9110 5.3)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


_MAX_LINE, _MAX_HEADERS = 65536, 100  # as http.client's limits


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # idle keep-alive connections close after this

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the sandbox logs method, path and status itself (never headers or bodies)

    def parse_request(self) -> bool:
        """The stdlib's request line handling (HTTP/1.0 and 1.1 only), with the header block read here instead of
        by ``http.client.parse_headers``, whose email parser was over a third of the sandbox's CPU per request:
        the same limits (100 headers, 64 KiB lines: 431), obsolete line folding joined, a header line without a
        colon or with space before it refused (400); ``Connection`` and ``Expect: 100-continue`` as the stdlib."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            bad = len(words) == 3 and words[2].startswith("HTTP/") and words[2] >= "HTTP/2"
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED if bad else HTTPStatus.BAD_REQUEST,
                            "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        self.close_connection = self.request_version != "HTTP/1.1"
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")  # as the stdlib (gh-87389)
        headers, last = _Headers(), None
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= _MAX_HEADERS:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
                return False
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last is not None:  # obsolete line folding
                headers[last] = f"{headers[last]} {text.strip()}"
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return False
            last, value = name.lower(), value.strip()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        if headers.get("expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _respond(self, response: Response) -> None:
        """Status line, headers and body in one write (one TLS record run instead of two)."""
        reason = self.responses.get(response.status, ("",))[0]
        lines = [f"{self.protocol_version} {response.status} {reason}", f"Server: {self.version_string()}",
                 f"Date: {_http_date()}"]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)
        self.wfile.flush()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        cert = None
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert(binary_form=True)
        request = Request(self.command, parts.path, parts.query, dict(self.headers), body, cert)
        fault = sandbox.faults.take(request.method, request.path)
        response: Response | None
        if fault is not None and fault.kind == "drop":
            sandbox._record(request, 0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "stall":
            sandbox._stopping.wait(fault.seconds)
            fault = None
        if fault is not None:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            titles = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                      503: "Service Unavailable", 504: "Gateway Timeout"}
            response = sandbox.fault_response(fault.status, titles.get(fault.status, "Refused on command"),
                                              headers)
        else:
            try:
                response = sandbox.handle(request)
            except Exception:  # a sandbox bug: answer 500 and keep serving
                log.exception("%s: error handling %s %s", sandbox.name, request.method, request.path)
                response = Response.problem(500, "Internal Server Error", "sandbox error")
        sandbox._record(request, response.status)
        try:
            self._respond(response)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


_DATE: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header's value (formatted once per second)."""
    global _DATE
    now = int(time.time())
    if _DATE[0] != now:
        _DATE = (now, formatdate(now, usegmt=True))
    return _DATE[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sandbox: SandboxServer, address: tuple[str, int]) -> None:
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        # the TLS handshake runs here, in the connection's own thread, so a slow client blocks nobody
        conn: socket.socket = request
        with self._open_lock:
            self._open.add(conn)
        try:
            if self.sandbox.ssl_context is not None:
                conn.settimeout(10)
                try:
                    conn = self.sandbox.ssl_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.sandbox._handshake_failures += 1
                    log.debug("%s: TLS handshake refused: %s", self.sandbox.name, type(exc).__name__)
                    return
                with self._open_lock:
                    self._open.add(conn)
            self.finish_request(conn, client_address)
        except Exception:  # noqa: BLE001 - a broken connection must not end the server
            pass
        finally:
            with self._open_lock:
                self._open.discard(conn)
                self._open.discard(request)
            self.shutdown_request(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass

    def close_all(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    status: int  # 0: connection dropped on command
    at: float
    client_cert: bool


class SandboxServer:
    """Base of the sandboxes: ``start()`` binds a free loopback port, ``stop()`` ends it; ``base_url``."""

    name = "sandbox"

    def __init__(self, *, ssl_context: ssl.SSLContext | None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ssl_context = ssl_context
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._handshake_failures = 0
        self._record_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, (self._host, self._port))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        log.info("%s listening on %s", self.name, self.base_url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("%s stopped", self.name)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def handshake_failures(self) -> int:
        """TLS handshakes the server refused (e.g. no client certificate where mTLS is required)."""
        return self._handshake_failures

    def reset(self) -> None:
        """Forget the failure modes commanded so far (state such as stored messages stays)."""
        self.faults.clear()

    # ---- requests ------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def fault_response(self, status: int, title: str, headers: dict[str, str]) -> Response:
        return Response.problem(status, title, "failure mode on command", headers=headers)

    def _record(self, request: Request, status: int) -> None:
        log.debug("%s: %s %s -> %s", self.name, request.method, request.path, status)
        with self._record_lock:
            self.requests.append(Recorded(request.method, request.path, status, time.time(),
                                          request.client_cert_der is not None))

    def requests_to(self, method: str, path_prefix: str) -> list[Recorded]:
        with self._record_lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]
