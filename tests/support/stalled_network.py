"""Network failures on loopback, made with real sockets.

- :class:`SilentServer` accepts TCP connections and never answers: a Milvus whose process hangs,
  or a host behind a firewall that drops nothing but forwards nothing either.
- :class:`StallingProxy` forwards a port to another until :meth:`stall`, then holds every byte
  in both directions, connections open, until :meth:`resume`: a link that stopped carrying data
  under an established connection.
"""

from __future__ import annotations

import socket
import threading


class _Listener:
    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._closed = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> _Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        self._socket.close()
        for connection in self._connections:
            connection.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._connections.append(connection)
            self._accepted(connection)

    def _accepted(self, connection: socket.socket) -> None:
        """Keep the connection open and silent."""


class SilentServer(_Listener):
    """Accepts, reads nothing, answers nothing."""


class StallingProxy(_Listener):
    """Forwards to ``127.0.0.1:upstream_port``; :meth:`stall` holds the bytes, :meth:`resume`
    lets them through again."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self._upstream_port = upstream_port
        self._flowing = threading.Event()
        self._flowing.set()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def _accepted(self, connection: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
        self._connections.append(upstream)
        for source, target in ((connection, upstream), (upstream, connection)):
            threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while not self._flowing.wait(0.05):
                    if self._closed.is_set():
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()
