"""Proxies on 127.0.0.1 in front of the moto server, for tests that need real sockets: a TCP fault
proxy (reset or hang connections on demand), which a subclass may also use to look at the requests
passing through, a black hole (a server that never answers), and an HTTP fault proxy that injects
S3 faults (errors, slow, dropped, cut and lost answers, hangs, failed preconditions) into the
requests its rules match."""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dropped connection looks to the client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """A TCP proxy on 127.0.0.1 (an OS-chosen port) in front of an S3 endpoint.

    ``mode`` 'pass' forwards bytes both ways. 'drop' resets connections and 'hang' holds them
    open without forwarding a byte more: every connection when ``match`` is None, otherwise
    each connection whose request bytes contain ``match`` (at the moment they do).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode: Literal["pass", "drop", "hang"] = "pass"
        self.match: bytes | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def observe(self, request: bytes) -> None:
        """Called with the request bytes of each read from a client (a subclass may look)."""

    def drop(self, match: bytes | None = None) -> None:
        self._switch("drop", match)

    def hang(self, match: bytes | None = None) -> None:
        self._switch("hang", match)

    def heal(self) -> None:
        self._switch("pass", None)

    def close(self) -> None:
        self._listener.close()
        self._switch("drop", None)

    def _switch(self, mode: Literal["pass", "drop", "hang"], match: bytes | None) -> None:
        self.mode, self.match = mode, match
        if mode == "drop" and match is None:  # connections open now fail as well
            with self._lock:
                conns, self._open = list(self._open), set()
            for sock in conns:
                _reset(sock)

    def _stalls(self, data: bytes, request: bool) -> bool:
        if self.mode == "pass":
            return False
        return self.match is None or (request and self.match in data)

    def _keep(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            if self.match is None and self.mode == "drop":
                _reset(client)
                continue
            if self.match is None and self.mode == "hang":
                self._keep(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                _reset(client)
                continue
            self._keep(client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, request: bool) -> None:
        try:
            while data := src.recv(65536):
                if request:
                    self.observe(data)
                if self._stalls(data, request):
                    if self.mode == "drop":
                        _reset(src)
                        _reset(dst)
                    return  # 'hang': the request is never forwarded, the connection stays open
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class BlackHole:
    """A server on 127.0.0.1 that accepts every connection and never answers: a hung endpoint."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self._listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self._listener.close()
        for sock in self.held:
            _reset(sock)


# -- an HTTP-aware fault proxy ---------------------------------------------------------------------
FaultKind = Literal["500", "503", "slow", "drop", "cut", "lose", "hang", "412"]
# Headers that belong to one hop (RFC 9110 section 7.6.1), not forwarded either way.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",  # answered here: a proxy forwards a body it has read in full
    }
)
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "ServiceUnavailable", "Please reduce your request rate."),
    "412": (412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
}


@dataclass
class Rule:
    """Which requests a fault is injected into, and how many more times: ``times`` None is for
    ever (a persistent fault), else the next ``times`` matching requests (a transient one)."""

    kind: FaultKind
    method: str | None = None  # e.g. "PUT"; None: any
    path: str | None = None  # a substring of the path and query, e.g. "_delta_log"; None: any
    times: int | None = None
    delay: float = 0.0  # 'slow': seconds to wait before forwarding

    def matches(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and method != self.method.upper():
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.kind == "412":  # only a conditional put can fail its precondition
            conditional = any(h.lower() in ("if-match", "if-none-match") for h in headers)
            return method == "PUT" and conditional
        return True


class HttpFaultProxy:
    """An HTTP proxy on 127.0.0.1 (an OS-chosen port) in front of an S3 endpoint, which injects
    faults into the requests that :meth:`inject`'s rules match.

    Each request is forwarded as the client sent it (method, path and query, headers including
    the signed Host, body) and its answer streamed back, unless a rule matches it first:

    - '500', '503': an S3 error answer (``InternalError``, ``ServiceUnavailable``), not forwarded;
    - 'slow': forwarded after ``delay`` seconds;
    - 'drop': the connection is reset before anything is forwarded or answered;
    - 'cut': forwarded; the status line, the headers and half the body come back, then the
      connection closes (for answers with a body: match GETs);
    - 'lose': forwarded (it takes effect), then the connection is reset: the answer is lost;
    - 'hang': never forwarded nor answered, the connection held open until :meth:`heal`;
    - '412': ``PreconditionFailed`` for a conditional put (a PUT with If-Match or If-None-Match).

    ``injected`` counts the faults injected, by kind.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []  # (method, path) of each request seen
        self.unsupported: list[str] = []  # requests it could not forward (none expected)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._healed = 0  # how often heal() was called: a hung request waits for the next
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def inject(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
        delay: float = 0.0,
    ) -> Rule:
        rule = Rule(kind, method, path, times, delay)
        with self._lock:
            self.rules.append(rule)
        return rule

    def heal(self) -> None:
        """No more faults; hung requests are let go (their connections reset)."""
        with self._idle:
            self.rules.clear()
            self._healed += 1
            self._idle.notify_all()

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until no request is in flight (a slow one may still land after its client gave up)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)

    def close(self) -> None:
        self.heal()
        self._server.shutdown()
        self._server.server_close()

    def _fault_for(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[Rule | None, int]:
        """The rule the request meets, if any (counted as injected), and how often the proxy
        was healed so far (a hung request waits for the next heal)."""
        with self._lock:
            self.requests.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path, headers):
                    if rule.times is not None:
                        rule.times -= 1
                    self.injected[rule.kind] += 1
                    return rule, self._healed
        return None, self._healed

    def _hold(self, healed: int, timeout: float = 60.0) -> None:
        """Block a hung request until :meth:`heal` is called (after it was hung)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._healed == healed and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)

    def _enter(self) -> None:
        with self._lock:
            self._busy += 1

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: HttpFaultProxy

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: clients that give up (and the faults themselves) break connections."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 clients expect
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._proxy()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _proxy(self) -> None:
        proxy = self.server.proxy
        proxy._enter()
        try:
            self._serve(proxy)
        finally:
            proxy._leave()

    def _serve(self, proxy: HttpFaultProxy) -> None:
        headers = dict(self.headers.items())
        if "chunked" in self.headers.get("Transfer-Encoding", ""):  # no S3 client here sends one
            proxy.unsupported.append(f"{self.command} {self.path}: a chunked request body")
            self._error(501, "NotImplemented", "the fault proxy forwards no chunked request bodies")
            return
        body = self._body()
        rule, healed = proxy._fault_for(self.command, self.path, headers)
        kind = rule.kind if rule is not None else None
        if kind in _ERRORS:
            self._error(*_ERRORS[kind])
            return
        if kind == "drop":
            self._reset()
            return
        if kind == "hang":
            proxy._hold(healed)
            self._reset()
            return
        if kind == "slow":
            assert rule is not None
            time.sleep(rule.delay)
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body or None)
            answer = upstream.getresponse()
            if kind == "lose":
                answer.read()
                self._reset()
                return
            self._relay(answer, cut=kind == "cut")
        finally:
            upstream.close()

    def _relay(self, answer: http.client.HTTPResponse, *, cut: bool) -> None:
        self.send_response_only(answer.status, answer.reason)
        length = answer.getheader("Content-Length")
        for name, value in answer.getheaders():
            if name.lower() not in _HOP:
                self.send_header(name, value)
        if length is None and self.command != "HEAD" and answer.status not in (204, 304):
            self.send_header("Connection", "close")  # the body ends where the connection does
            self.close_connection = True
        self.end_headers()
        if cut:
            self.close_connection = True
            try:
                self.wfile.write(answer.read(max(1, int(length or 2) // 2)))
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        while chunk := answer.read(65536):
            self.wfile.write(chunk)
        self.wfile.flush()

    def _error(self, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{escape(self.path)}</Resource><RequestId>fault-proxy</RequestId></Error>"
        ).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass
