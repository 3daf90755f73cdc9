"""The test TCP proxy (tests/support/tcp_proxy.py): forwards, cuts every connection at once, and comes back."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from support.tcp_proxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):  # reset by the proxy's cut
            while data := self.request.recv(4096):
                self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _echo(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(data)
        return sock.recv(4096)


def _dead(sock: socket.socket) -> bool:
    """True when the connection is closed or reset (a read gives EOF or an error), within the socket's timeout."""
    try:
        sock.sendall(b"ping")
        return sock.recv(4096) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def _fresh_connection_is_dead(port: int) -> bool:
    """Connecting may itself be reset (the proxy accepts and resets at once), or succeed and then be reset."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionError:
        return True
    with sock:
        return _dead(sock)


def test_forwards_then_cuts_every_connection_at_once_then_restores(echo_port: int) -> None:
    with TcpProxy("127.0.0.1", echo_port) as proxy:
        assert _echo(proxy.port, b"hello") == b"hello"
        with contextlib.ExitStack() as stack:
            held = [stack.enter_context(socket.create_connection(("127.0.0.1", proxy.port), timeout=2))
                    for _ in range(3)]
            for sock in held:
                sock.sendall(b"x")
                assert sock.recv(16) == b"x"
            assert proxy.open_connections == 3

            started = time.monotonic()
            proxy.cut()
            assert [_dead(sock) for sock in held] == [True, True, True]
            assert _fresh_connection_is_dead(proxy.port)  # no forwarding while cut
            assert time.monotonic() - started < 1.0
            assert proxy.open_connections == 0 and proxy.refused >= 1

        proxy.restore()
        assert _echo(proxy.port, b"back") == b"back"


def test_a_clean_close_frees_the_connection(echo_port: int) -> None:
    with TcpProxy("127.0.0.1", echo_port) as proxy:
        assert _echo(proxy.port, b"one") == b"one"
        deadline = time.monotonic() + 2
        while proxy.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.open_connections == 0


def test_url_for_points_a_database_url_at_the_proxy(echo_port: int) -> None:
    with TcpProxy("127.0.0.1", echo_port) as proxy:
        assert proxy.url_for("postgresql://postgres:secret@db.example:5432/releve?sslmode=disable") == (
            f"postgresql://postgres:secret@127.0.0.1:{proxy.port}/releve?sslmode=disable")
