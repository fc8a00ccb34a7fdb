"""A TCP relay on loopback between a terminal and the service, for the tests of lost
answers and a host that is down: it accepts the terminal's connections, each on its own
thread, and a subclass says how a connection's messages are passed on (or lost)."""

from __future__ import annotations

import socket
import threading


class Relay:
    """Accepts on a loopback port until closed; :meth:`serve` handles one connection."""

    def __init__(self) -> None:
        self.down = False  #: a host that is not there: every connection is closed at once
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            if not self.down:
                self.serve(client)

    def serve(self, client: socket.socket) -> None:
        """Pass one terminal connection's messages on to the service."""
        raise NotImplementedError
