"""A TCP proxy on 127.0.0.1 that a test can cut, to make a server (PostgreSQL, Redis) unreachable and back.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        store = Store(proxy.url_for(database_url))
        ...
        proxy.cut()       # every open connection is reset; new ones are reset as soon as accepted
        ...
        proxy.restore()   # connections go through again

The server itself keeps running: only this process's path to it breaks, as in a network partition seen by
one replica. Threads, not asyncio, so it works the same under sync and async tests; two threads per
connection are plenty for a test's handful of pooled connections.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

from sqlalchemy.engine import make_url

__all__ = ["TcpProxy"]

_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the peer's next read or write fails at once, as on a dropped link.

    shutdown(SHUT_RD) first wakes a pump thread blocked reading this socket (close alone would not).
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:`port` (a free one) to `host`:`target_port` until `cut()`; `restore()` undoes it."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        # Each forwarded connection (client side, server side) -> how many of its two directions have ended.
        self._pairs: dict[tuple[socket.socket, socket.socket], int] = {}
        self._cut = False
        self._stopped = False
        self.accepted = 0   # connections accepted, forwarded or not
        self.refused = 0    # connections reset at once because the proxy was cut
        self._thread = threading.Thread(target=self._accept_loop, name=f"tcp-proxy-{self.port}", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        self._close_all()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def cut(self) -> None:
        """Reset every open connection now, and every new one as soon as it is accepted, until `restore()`."""
        self._cut = True
        self._close_all()

    def restore(self) -> None:
        """Forward new connections again (the ones cut stay closed: clients reconnect)."""
        self._cut = False

    def url_for(self, url: str) -> str:
        """`url` (e.g. postgresql://user@host:5432/db) with its host and port replaced by the proxy's."""
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def _close_all(self) -> None:
        with self._lock:
            pairs, self._pairs = list(self._pairs), {}
        for client, upstream in pairs:
            _reset(client)
            _reset(upstream)

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            self.accepted += 1
            if self._cut:
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            pair = (client, upstream)
            with self._lock:
                if self._cut:  # cut while we were connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._pairs[pair] = 0
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, pair), daemon=True,
                                 name=f"tcp-proxy-{self.port}-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        clean = False
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # pass the half-close on
            clean = True
        except OSError:
            pass  # cut, or one side went away
        with self._lock:
            if pair not in self._pairs:
                return  # cut: already reset
            ended = self._pairs[pair] = self._pairs[pair] + 1
            if clean and ended < 2:
                return  # the other direction may still carry data
            del self._pairs[pair]
        for sock in pair:
            if clean:
                with contextlib.suppress(OSError):
                    sock.close()
            else:
                _reset(sock)  # the other direction's pump may be blocked reading: wake it
