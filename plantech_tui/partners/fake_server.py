"""What every partner's fake server shares: loopback sockets, uvicorn, a background thread
(tests, the demo) or the foreground with signals (`plantech fake-…`), and the admin routes'
guard against browsers.

Nothing here imports starlette or uvicorn at module level: building the CLI parser (which
lists each fake's options) stays cheap.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

__all__ = ["HOST", "START_TIMEOUT", "ServerThread", "bind", "browser_refusal", "run_foreground"]

HOST = "127.0.0.1"
START_TIMEOUT = 15.0


def bind(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (port 0: a free one)."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it Nagle + delayed ACK add ~40 ms to every keep-alive request
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    # listen now, so a URL printed next is already connectable (uvicorn would only listen once
    # its loop starts; a client racing it got "connection refused")
    sock.listen(128)
    return sock


def uvicorn_config(app: Any) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=1,
        # h11 is pure Python and always installed; a fake never needs speed from httptools
        http="h11", ws="none", loop="asyncio")


class ServerThread:
    """An ASGI app served on already-bound sockets in a daemon thread."""

    def __init__(self, app: Any, sockets: list[socket.socket], name: str) -> None:
        self.app = app
        self.sockets = sockets
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        import uvicorn

        if self._thread is not None:
            raise RuntimeError(f"the {self.name} is already running")
        server = self._server = uvicorn.Server(uvicorn_config(self.app))
        socks = self.sockets

        def run() -> None:
            try:
                server.run(sockets=socks)
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                self._error = exc
            finally:
                for sock in socks:
                    sock.close()

        thread = self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                reason = self._error or "did not start in time"
                raise RuntimeError(f"the {self.name} failed to start: {reason}")
            time.sleep(0.005)  # polls uvicorn's started flag

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(timeout=5)
        self._server = self._thread = None


@contextlib.contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    """SIGINT/SIGTERM end the server gracefully; unlike uvicorn's own handling nothing is
    re-raised afterwards, so the process exits 0."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_foreground(app: Any, sockets: list[socket.socket]) -> None:
    """Serve until SIGINT/SIGTERM (`plantech fake-…`)."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with _stop_on_signals(self):
                yield

    try:
        _Server(uvicorn_config(app)).run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()


def browser_refusal(method: str, headers: Mapping[str, str]) -> str | None:
    """Why an admin request must be refused, or None. Admin routes answer loopback only, but a
    web page open in a browser on the same machine is loopback too: it may not change the
    fake (approve a login, set faults). Browsers mark their requests (Origin on a cross-origin
    POST, Sec-Fetch-Site on every request); tests, the demo's presenter keys and curl do not.
    A GET changes nothing, so a page's <img> (no Origin) gains nothing either."""
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    if origin is not None or (site is not None and site != "none"):
        return "The admin routes do not answer web pages"
    if method not in ("GET", "HEAD", "POST", "PATCH", "DELETE"):
        return "Method not allowed"
    return None
