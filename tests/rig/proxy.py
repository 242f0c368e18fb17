"""A small HTTP CONNECT proxy on 127.0.0.1, in threads of the test process.

    proxy = ConnectProxy().start()
    ... git config http.proxy {proxy.url} ...
    proxy.connects          # ["127.0.0.1:PORT", ...]: every CONNECT target, in order
    proxy.stop()

It tunnels bytes both ways and never looks inside (TLS stays end to end). Bounded: it only
tunnels to loopback addresses (anything else gets 403), at most `MAX_TUNNELS` at once, every
socket has a timeout, and `stop()` closes every socket and joins every thread.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from typing import Optional

MAX_TUNNELS = 32
IDLE_TIMEOUT = 30.0  # a tunnel with no traffic either way for this long is closed
HEAD_LIMIT = 16 * 1024


class ConnectProxy:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._connects: list[str] = []
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_TUNNELS)
        self._accepter: Optional[threading.Thread] = None

    @property
    def connects(self) -> list[str]:
        with self._lock:
            return list(self._connects)

    def start(self) -> ConnectProxy:
        self._accepter = threading.Thread(target=self._accept, name=f"proxy-{self.port}",
                                          daemon=True)
        self._accepter.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._accepter is not None:
            self._accepter.join(timeout=10)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            _close(sock)
        for thread in threads:
            thread.join(timeout=10)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                _close(client)  # too many tunnels at once: refuse rather than queue
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        upstream: Optional[socket.socket] = None
        try:
            client.settimeout(IDLE_TIMEOUT)
            target = self._read_connect(client)
            if target is None:
                return
            host, port = target
            with self._lock:
                self._connects.append(f"{host}:{port}")
            if not _is_loopback(host):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection((host, port), timeout=IDLE_TIMEOUT)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self._track(upstream)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._tunnel(client, upstream)
        except (OSError, ValueError):  # ValueError: a socket stop() closed under select
            pass
        finally:
            _close(client)
            if upstream is not None:
                _close(upstream)
            self._slots.release()

    @staticmethod
    def _read_connect(client: socket.socket) -> Optional[tuple[str, int]]:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > HEAD_LIMIT:
                return None
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return None
        host, _, port = parts[1].rpartition(":")
        if not port.isdigit():
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return None
        return host.strip("[]"), int(port)

    def _tunnel(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        last = time.monotonic()
        while not self._stopping.is_set() and time.monotonic() - last < IDLE_TIMEOUT:
            readable, _, _ = select.select(list(peers), [], [], 0.2)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
                last = time.monotonic()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _close(sock: socket.socket) -> None:
    # shutdown first: it wakes a thread blocked in recv() on this socket, close() does not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
