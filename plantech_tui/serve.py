"""`plantech serve`: the TUI in a browser through textual-serve, on loopback by default.

Reach it from elsewhere through an SSH tunnel (plantech_tui/docs/DEPLOY.md); a non-loopback host needs
--allow-remote, because the page is the whole app with the serving user's rights.

textual-serve starts one app process per browser tab. On top of it this module:
- checks the database and the user once, before listening, and hands both to every tab
  explicitly (`--db ABSOLUTE --user NAME`; the rest of `PLANTECH_*` is inherited);
- binds the socket itself, so a taken port is one line, and `--port 0` works;
- gives the page a title, and drops textual-serve's Google Fonts link (the page stays
  offline: xterm.js falls back to a local monospace font);
- on SIGTERM or SIGINT asks every tab's app to quit, then terminates what is left, so the
  server stops in seconds (not aiohttp's 60 s) and leaves no app process behind.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .domain.errors import PlantechError, UsageError

if TYPE_CHECKING:
    from asyncio.subprocess import Process

    from aiohttp import web

log = logging.getLogger("plantech.serve")

QUIT_GRACE_SECONDS = 3.0  # a tab's app gets this long to quit on its own before SIGTERM
KILL_GRACE_SECONDS = 2.0  # and this long after SIGTERM before SIGKILL


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tab_command(db_path: Path, user_name: str, python: str = sys.executable) -> str:
    """The shell command textual-serve runs once per browser tab. `exec` replaces the shell,
    so the process textual-serve holds (and signals) is the app itself."""
    return "exec " + shlex.join(
        [python, "-m", "plantech_tui", "--db", str(db_path), "--user", user_name])


def page_title(user_name: str) -> str:
    return f"PlanTech — {user_name}"


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or one line saying why not."""
    try:
        return socket.create_server((host.strip("[]"), port), backlog=128)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PlantechError(f"port {port} on {host} is already in use "
                                "(stop what listens there, or choose another --port)") from None
        if exc.errno == errno.EACCES:
            raise PlantechError(f"not allowed to listen on port {port} on {host} "
                                "(ports below 1024 need privileges)") from None
        where = _url(host, port).removeprefix("http://")
        raise PlantechError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def _index_template() -> str:
    """textual-serve's page with a <title> and without the external font request."""
    import textual_serve

    path = Path(textual_serve.__file__).parent / "templates" / "app_index.html"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text, skip = "", 0
    for i, line in enumerate(lines):
        if skip:
            skip -= 1
            continue
        # the <link ... href="https://fonts.googleapis.com/..."/> element spans up to 4 lines
        if "<link" in line and any("fonts.googleapis.com" in x for x in lines[i:i + 4]):
            end = next(j for j in range(i, len(lines)) if "/>" in lines[j])
            skip = end - i
            continue
        text += line
    return text.replace("<head>", "<head>\n    <title>{{ application.name }}</title>", 1)


def make_server(command: str, host: str, port: int, title: str) -> Any:
    """A textual-serve Server that tracks its tabs' processes and stops them on shutdown."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import WSCloseCode, web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    processes: set[Process] = set()
    sockets: set[web.WebSocketResponse] = set()

    class TabService(AppService):
        process: Process | None = None

        async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
            self.process = await super()._open_app_process(width, height)
            processes.add(self.process)
            return self.process

    class PlantechServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=title,
                             public_url=_url(host, port))

        async def on_startup(self, app: web.Application) -> None:
            pass  # no logo on stdout; run_serve says where it listens

        async def make_app(self) -> web.Application:
            app = web.Application()
            aiohttp_jinja2.setup(app, loader=jinja2.DictLoader(
                {"app_index.html": _index_template()}))
            app.add_routes([
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ])
            app.on_shutdown.append(self._close_tabs)
            app.on_cleanup.append(self._reap)
            return app

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            # textual-serve's handler, with the tab's service tracked and its app process
            # always stopped when the browser goes away
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            service: TabService | None = None
            try:
                await websocket.prepare(request)
                sockets.add(websocket)
                service = TabService(command, write_bytes=websocket.send_bytes,
                                     write_str=websocket.send_str, close=websocket.close,
                                     download_manager=self.download_manager)
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception:
                log.exception("browser session failed")
            finally:
                sockets.discard(websocket)
                if service is not None:
                    await service.stop()
                    if service.process is not None:  # quit asked; make sure it is gone
                        await stop_processes({service.process})
                        processes.discard(service.process)
            return websocket

        async def _close_tabs(self, app: web.Application) -> None:
            """Shutdown, step 1: close every tab's websocket, which makes its handler ask
            the app to quit (textual-serve's "quit" meta) and wait for it."""
            for ws in list(sockets):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

        async def _reap(self, app: web.Application) -> None:
            """Shutdown, step 2: whatever app did not quit gets SIGTERM, then SIGKILL."""
            await stop_processes(processes)

    return PlantechServer()


async def stop_processes(processes: set[Process]) -> None:
    async def stop(process: Process) -> None:
        if process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), QUIT_GRACE_SECONDS)
            return
        except TimeoutError:
            pass
        for sig_send in (process.terminate, process.kill):
            try:
                sig_send()
            except ProcessLookupError:
                return
            try:
                await asyncio.wait_for(process.wait(), KILL_GRACE_SECONDS)
                return
            except TimeoutError:
                continue

    await asyncio.gather(*(stop(p) for p in list(processes)))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _check_workspace(db_path: Path, user: str | None) -> str:
    """Open the database as the user once, so a bad path or user fails here in one line
    rather than in every browser tab. Returns the resolved user name."""
    import sqlite3

    from .service.workspace import Workspace

    try:
        ws = Workspace.open(db_path, user)
    except sqlite3.Error as exc:
        raise PlantechError(f"cannot open database {db_path}: {exc}") from None
    try:
        return ws.user.name
    finally:
        ws.close()


def run_serve(args: argparse.Namespace) -> int:
    host: str = args.host
    if not is_loopback(host) and not args.allow_remote:
        raise UsageError(f"refusing to serve on {host}: not a loopback address "
                         "(use an SSH tunnel, or --allow-remote if you really mean it)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"invalid port {args.port}")
    from .paths import default_db_path

    db_path = Path(args.db) if getattr(args, "db", None) else default_db_path()
    db_path = Path(os.path.abspath(db_path))
    user_name = _check_workspace(db_path, getattr(args, "user", None))
    sock = bind(host, args.port)
    port = sock.getsockname()[1]
    server = make_server(tab_command(db_path, user_name), host, port, page_title(user_name))
    _serve_logging()
    if not is_loopback(host):
        print(f"plantech: warning: serving on {host}, reachable from other machines: anyone "
              f"who reaches it acts as {user_name}", file=sys.stderr)
    print(f"plantech: serving {db_path} as {user_name} on {_url(host, port)} "
          "(ctrl+c or SIGTERM to stop)", file=sys.stderr, flush=True)
    _run(server, sock)
    print("plantech: stopped", file=sys.stderr, flush=True)
    return 0


def _serve_logging() -> None:
    """textual-serve's own warnings (an app that failed to start) go to stderr, one line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("plantech: serve: %(message)s"))
    ts = logging.getLogger("textual-serve")
    ts.addHandler(handler)
    ts.setLevel(logging.WARNING)
    ts.propagate = False
    log.addHandler(handler)


def _run(server: Any, sock: socket.socket) -> None:
    from aiohttp import web

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # handle_signals: SIGINT and SIGTERM end run_app gracefully (on_shutdown, on_cleanup)
    web.run_app(server.make_app(), sock=sock, handle_signals=True, access_log=None,
                shutdown_timeout=QUIT_GRACE_SECONDS + 2 * KILL_GRACE_SECONDS + 1,
                print=None, loop=loop)
