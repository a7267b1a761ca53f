"""TCP proxies on 127.0.0.1 in front of the moto server, for tests that need real sockets: a fault
proxy (reset or hang connections on demand), which a subclass may also use to look at the requests
passing through, and a black hole (a server that never answers)."""

from __future__ import annotations

import socket
import struct
import threading
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
