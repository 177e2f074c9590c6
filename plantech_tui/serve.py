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
  server stops in seconds (not aiohttp's 60 s) and leaves no app process behind;
- obeys only its own page (`Guard`): a random token per start, printed in the URL
  (`/?token=…`, as Jupyter does) and then kept in an HttpOnly SameSite=Strict cookie, is
  required by the page, the websocket and the download route; the websocket (and anything
  but GET/HEAD) must come from the page's own origin; the Host header must name this server
  (against DNS rebinding); request bodies and websocket messages are size-capped. The token
  is never logged (no access log) and never put in a tab's environment or command line.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import re
import secrets
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
MAX_WS_MESSAGE = 256 * 1024  # one browser message (a paste); aiohttp's default is 4 MiB
MAX_BODY = 16 * 1024  # no route takes a body
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


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


_HOST_HEADER = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


class Guard:
    """Who may use the server: the holder of this start's token, from the server's own page,
    addressed by one of the server's own names.

    - Token: from `?token=` (the printed URL) or the cookie set when the page is first
      loaded with it; compared with secrets.compare_digest. Static files (xterm.js, CSS; no
      data) are open; the page, the websocket and downloads are not.
    - Host: its name must be a loopback name (127.0.0.1, localhost, [::1], the bound
      address) or, with --allow-remote, the bound host or an --allow-host name. A DNS
      rebinding page sends its own name (Host: evil.example:PORT) and is refused. The port
      is not compared: an SSH tunnel may map any local port to this one.
    - Origin: the websocket and any request other than GET/HEAD must carry an Origin equal to
      the origin the browser addressed (http:// + Host), so another site, or another local
      port (which shares cookies with this one), is refused; no Origin is refused too.
    """

    def __init__(self, host: str, port: int, allow_hosts: tuple[str, ...] = (),
                 token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.cookie = f"plantech_serve_{port}"
        bound = host.strip("[]").lower()
        names = set(LOOPBACK_NAMES) | {bound}
        names |= {h.strip("[]").lower() for h in allow_hosts}
        names -= {"0.0.0.0", "::", ""}  # "any address" is not a name a browser uses
        self.host_names = frozenset(names)

    def token_ok(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(
            given.encode("utf-8", "replace"), self.token.encode())

    def host_ok(self, host_header: str | None) -> bool:
        from yarl import URL

        if not host_header or not _HOST_HEADER.fullmatch(host_header):
            return False  # only "name[:port]" or "[v6][:port]": no user info, no path
        try:
            name = URL(f"http://{host_header}").raw_host
        except ValueError:
            return False
        return name is not None and name.strip("[]").lower() in self.host_names

    @staticmethod
    def origin_ok(origin: str | None, host_header: str) -> bool:
        return origin is not None and origin.lower() == f"http://{host_header}".lower()

    def middleware(self) -> Any:
        from aiohttp import hdrs, web

        def refuse(status: int, why: str) -> web.Response:
            return web.Response(status=status, text=f"plantech serve: {why}\n",
                                headers={"Cache-Control": "no-store"})

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            host = request.headers.get(hdrs.HOST, "")
            if not self.host_ok(host):
                return refuse(421, "this server does not answer to that host name")
            is_ws = (request.path == "/ws"
                     or request.headers.get(hdrs.UPGRADE, "").lower() == "websocket")
            if (is_ws or request.method not in ("GET", "HEAD")) and not self.origin_ok(
                    request.headers.get(hdrs.ORIGIN), host):
                return refuse(403, "request from another origin refused")
            if request.path.startswith("/static/") and not is_ws:
                return await handler(request)
            return no_framing(await guarded(request, handler, is_ws))

        def no_framing(response: web.StreamResponse) -> web.StreamResponse:
            if not response.prepared:  # a websocket has sent its headers already
                response.headers.setdefault("X-Frame-Options", "DENY")
                response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
            return response

        async def guarded(request: web.Request, handler: Any, is_ws: bool) -> web.StreamResponse:
            query_token = request.query.get("token")
            if self.token_ok(query_token) and request.path == "/" and not is_ws:
                # first load from the printed URL: keep the token in a cookie and take it
                # out of the address bar (and history, and any Referer)
                rest = request.rel_url.with_query(
                    [(k, v) for k, v in request.query.items() if k != "token"])
                response = web.Response(status=303, headers={
                    "Location": str(rest), "Cache-Control": "no-store"})
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict",
                                    path="/")
                return response
            if not (self.token_ok(query_token) or
                    self.token_ok(request.cookies.get(self.cookie))):
                return refuse(403, "open the URL that plantech serve printed "
                                   "(it carries the access token)")
            return await handler(request)

        return guard


def make_server(command: str, host: str, port: int, title: str,
                guard: Guard | None = None) -> Any:
    """A textual-serve Server that tracks its tabs' processes and stops them on shutdown,
    behind `guard` (a fresh token when not given)."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import WSCloseCode, web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    processes: set[Process] = set()
    sockets: set[web.WebSocketResponse] = set()
    the_guard: Guard = guard or Guard(host, port)

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
            app = web.Application(middlewares=[the_guard.middleware()], client_max_size=MAX_BODY)
            aiohttp_jinja2.setup(app, loader=jinja2.DictLoader(
                {"app_index.html": _index_template()}))
            app.add_routes([
                web.get("/", self.handle_page, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ])
            app.on_shutdown.append(self._close_tabs)
            app.on_cleanup.append(self._reap)
            return app

        async def handle_page(self, request: web.Request) -> web.Response:
            """textual-serve's page, its URLs on the origin the browser used (so the cookie,
            which belongs to that host name, goes with the websocket)."""
            base = f"http://{request.host}"
            context = {
                "font_size": _int(request.query.get("fontsize"), 16),
                "app_websocket_url": f"ws://{request.host}/ws",
                "config": {"static": {"url": f"{base}/static/"}},
                "application": {"name": self.title},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            # textual-serve's handler, with the tab's service tracked and its app process
            # always stopped when the browser goes away
            websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_WS_MESSAGE)
            width = _int(request.query.get("width"), 80)
            height = _int(request.query.get("height"), 24)
            service: TabService | None = None
            try:
                await websocket.prepare(request)
                sockets.add(websocket)
                service = TabService(command, write_bytes=websocket.send_bytes,
                                     write_str=websocket.send_str,
                                     close=websocket.close,  # type: ignore[arg-type]
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
    guard = Guard(host, port, tuple(getattr(args, "allow_host", None) or ()))
    server = make_server(tab_command(db_path, user_name), host, port, page_title(user_name),
                         guard)
    _serve_logging()
    if not is_loopback(host):
        print(f"plantech: warning: serving on {host}, reachable from other machines: anyone "
              f"who reaches it acts as {user_name}", file=sys.stderr)
    print(f"plantech: serving {db_path} as {user_name} on {_url(host, port)}/?token="
          f"{guard.token} (ctrl+c or SIGTERM to stop; the token is new each start)", file=sys.stderr, flush=True)
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
