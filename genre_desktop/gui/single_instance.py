"""One window per person: a second ``genre-desktop FILE`` ("Open with" in a file manager)
hands its files to the running window and exits.

The running app listens on a local socket named for the user and the app's config folder
(so two people, or a test's own data folder, never meet); a new process first tries to
connect, sends its absolute paths as one JSON line, waits for them to be read, and exits.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import logging
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from genre_desktop.core.paths import user_config_folder

log = logging.getLogger(__name__)
CONNECT_MS = 500
MAX_MESSAGE = 1 << 20  # bytes: a hand-off is a list of paths, never more


def server_name() -> str:
    """Per user and per config folder; short enough for a Unix socket path."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha1(f"{user}\0{user_config_folder()}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"genre-desktop-{digest}"


def hand_off(paths: list[str], name: Optional[str] = None, timeout_ms: int = CONNECT_MS) -> bool:
    """Send ``paths`` to a running window; True when one took them (this process may exit)."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    absolute = [str(Path(p).expanduser().absolute()) for p in paths]
    socket.write(json.dumps({"open": absolute}).encode("utf-8", "surrogateescape") + b"\n")
    ok = socket.waitForBytesWritten(timeout_ms * 4)
    socket.waitForReadyRead(timeout_ms * 4)  # the window says it has them
    ok = ok and bytes(socket.readAll()).startswith(b"ok")
    socket.disconnectFromServer()
    return ok


class InstanceServer(QObject):
    """Listens for hand-offs and calls ``open_paths(paths)`` with what each one sends."""

    def __init__(self, open_paths: Callable[[list[str]], object], name: Optional[str] = None, parent=None):
        super().__init__(parent)
        self.open_paths = open_paths
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.UserAccessOption)
        self.name = name or server_name()
        QLocalServer.removeServer(self.name)  # a socket file left by a crash
        if not self.server.listen(self.name):
            log.warning("cannot listen for other windows' files: %s", self.server.errorString())
        self.server.newConnection.connect(self._accept)

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            buffer = bytearray()

            def read(socket=socket, buffer=buffer) -> None:
                buffer.extend(bytes(socket.readAll()))
                if len(buffer) > MAX_MESSAGE:
                    socket.abort()
                    return
                if buffer.endswith(b"\n"):
                    self._received(bytes(buffer), socket)

            socket.readyRead.connect(read)
            socket.disconnected.connect(socket.deleteLater)

    def _received(self, data: bytes, socket: QLocalSocket) -> None:
        try:
            paths = json.loads(data.decode("utf-8", "surrogateescape"))["open"]
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise ValueError("not a list of paths")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignored a hand-off that is not a list of paths: %s", exc)
            socket.abort()
            return
        socket.write(b"ok\n")
        socket.flush()
        if paths:
            self.open_paths(paths)

    def close(self) -> None:
        self.server.close()
