"""`plantech serve`: loopback only unless --allow-remote, the per-tab command, a taken port, an
unknown user, the page, the environment reaching the tab's app, and SIGTERM with a tab open.

Real processes on loopback; the browser's side of a tab is played by aiohttp's websocket
client speaking textual-serve's protocol (the chromium test is tests/e2e/test_browser.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from plantech_tui.serve import Guard, is_loopback, page_title, tab_command
from plantech_tui.service.workspace import Workspace
from tests.e2e.procs import alive, processes_mentioning, wait_for_line

PLANTECH = [sys.executable, "-m", "plantech_tui"]
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLANTECH, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantech: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_non_loopback_host_is_refused_in_one_line(host: str, db_path: Path) -> None:
    started = time.monotonic()
    result = run("serve", "--host", host, "--port", "0", "--db", str(db_path))
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"refusing to serve on {host}" in line and "--allow-remote" in line
    assert result.stdout == ""
    assert not db_path.exists(), "refused before touching the database"
    assert time.monotonic() - started < 15


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.1")
    assert not is_loopback("localhost.example.com") and not is_loopback("")


def test_tab_command_runs_plantech_on_the_database_as_the_user(tmp_path: Path) -> None:
    db = tmp_path / "dir with space" / "it's.db"
    command = tab_command(db, "Mary O'Brien", python="/opt/py thon/bin/python3")
    assert command.startswith("exec "), "the shell must not stay between server and app"
    assert shlex.split(command) == ["exec", "/opt/py thon/bin/python3", "-m", "plantech_tui",
                                    "--db", str(db), "--user", "Mary O'Brien"]
    assert page_title("Mary O'Brien") == "PlanTech — Mary O'Brien"


def test_port_in_use_is_one_line(db_path: Path) -> None:
    Workspace.open(db_path, "alice").close()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), "--db", str(db_path), "--user", "alice")
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"port {port} on 127.0.0.1 is already in use" in line, line


def test_unknown_user_fails_before_listening(db_path: Path) -> None:
    Workspace.open(db_path, "alice").close()
    result = run("serve", "--port", "0", "--db", str(db_path), "--user", "mallory")
    assert result.returncode == 1
    assert "mallory" in one_error_line(result)
    assert "serving" not in result.stderr


def test_invalid_port_is_a_usage_error(db_path: Path) -> None:
    result = run("serve", "--port", "70000", "--db", str(db_path))
    assert result.returncode == 2
    assert "invalid port 70000" in one_error_line(result)


def start_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None
                ) -> tuple[subprocess.Popen[bytes], str, Path]:
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*PLANTECH, "serve", "--port", "0", *args],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env={**(env or os.environ), "PYTHONUNBUFFERED": "1"})
    try:
        line = wait_for_line(log, "plantech: serving", timeout=20, proc=proc)
        match = re.search(r"on (http://127\.0\.0\.1:\d+)(?:/\?token=([\w-]{40,}))? ", line)
        assert match, line
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    TOKENS[match.group(1)] = match.group(2) or "no-token-printed"
    return proc, match.group(1), log


TOKENS: dict[str, str] = {}  # base URL -> the token that `plantech serve` printed for it


def tab_url(url: str, width: int = 100, height: int = 30, token: str | None = None) -> str:
    """The tab's websocket URL with the server's token (as the page's cookie would carry)."""
    token = TOKENS[url] if token is None else token
    return f"{url.replace('http', 'ws', 1)}/ws?width={width}&height={height}&token={token}"


def page_url(url: str) -> str:
    return f"{url}/?token={TOKENS[url]}"


def stop_serve(proc: subprocess.Popen[bytes], timeout: float) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"plantech serve did not stop within {timeout} s of SIGTERM") \
            from None


async def tab_screen_until(url: str, text: str, timeout: float = 20) -> str:
    """Open a tab as the browser does (GET /ws?width&height) and collect the app's output
    until `text` shows; the websocket stays open until the caller's session ends."""
    deadline = time.monotonic() + timeout
    seen = ""
    async with aiohttp.ClientSession() as session, session.ws_connect(
            tab_url(url, 120, 30), origin=url) as ws:
        while text not in ANSI.sub("", seen):
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never showed; the tab got:\n{ANSI.sub('', seen)[-2000:]}"
            msg = await ws.receive(timeout=left)
            if msg.type == aiohttp.WSMsgType.BINARY:
                seen += msg.data.decode("utf-8", "replace")
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                raise AssertionError(f"the tab closed; it got:\n{ANSI.sub('', seen)[-2000:]}")
    return ANSI.sub("", seen)


def test_environment_reaches_the_tab(tmp_path: Path) -> None:
    """PLANTECH_DB and PLANTECH_USER (no flags) pick the database and user of each tab's app;
    the page has its title and no external font."""
    db = tmp_path / "env.db"
    ws = Workspace.open(db, "alice")
    ws.add_user("bob", "advisor")
    ws.create_plan("Tab Family", ["Tess Tab"])  # alice's: bob must not see it
    ws.close()
    env = {**os.environ, "PLANTECH_DB": str(db), "PLANTECH_USER": "bob"}
    proc, url, log = start_serve(tmp_path, env=env)
    try:
        assert f"serving {db} as bob" in log.read_text()

        async def visit() -> str:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)
                                             ) as session, session.get(page_url(url)) as page:
                assert page.status == 200
                html = await page.text()
            assert "<title>PlanTech — bob</title>" in html
            assert "fonts.googleapis.com" not in html
            return await tab_screen_until(url, "bob (advisor")

        screen = asyncio.run(visit())
        assert "Tab Family" not in screen
    finally:
        code = stop_serve(proc, timeout=15)
    assert code == 0, log.read_text()


def test_sigterm_with_a_tab_open(tmp_path: Path) -> None:
    db = tmp_path / "open.db"
    Workspace.open(db, "alice").close()
    proc, url, log = start_serve(tmp_path, "--db", str(db), "--user", "alice")
    result: dict[str, object] = {}

    async def hold_tab_open_then_stop() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                tab_url(url), origin=url) as ws:
            deadline = time.monotonic() + 20
            seen = ""
            while "alice (advisor" not in ANSI.sub("", seen):
                assert time.monotonic() < deadline, ANSI.sub("", seen)[-1500:]
                msg = await ws.receive(timeout=deadline - time.monotonic())
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                seen += msg.data.decode("utf-8", "replace")
            pids = processes_mentioning(str(db)) - {proc.pid}
            assert pids, "no app process for the open tab"
            result["pids"] = pids
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # the server closes the tab: the browser side sees the websocket close
            while not ws.closed:
                msg = await ws.receive(timeout=max(0.1, started + 10 - time.monotonic()))
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                    break
            result["closed_after"] = time.monotonic() - started

    try:
        asyncio.run(hold_tab_open_then_stop())
        started = time.monotonic()
        code = proc.wait(timeout=15)
        waited = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output
    assert float(str(result["closed_after"])) < 8, result
    assert waited < 8, waited
    pids = result["pids"]
    assert isinstance(pids, set)
    deadline = time.monotonic() + 5
    while left := {p for p in pids if alive(p)} | processes_mentioning(str(db)):
        assert time.monotonic() < deadline, f"left behind: {left}"
        time.sleep(0.05)
    assert "plantech: stopped" in output


@pytest.mark.parametrize("how", ["ctrl+q in the app", "browser tab closed"])
def test_a_tab_that_ends_leaves_no_app_process(tmp_path: Path, how: str) -> None:
    """Quitting the app in the page, or closing the tab, ends that tab's app process while
    the server keeps serving."""
    db = tmp_path / "tabs.db"
    Workspace.open(db, "alice").close()
    proc, url, log = start_serve(tmp_path, "--db", str(db), "--user", "alice")
    try:
        async def tab() -> set[int]:
            # the cookie jar takes the page's cookie (aiohttp's default refuses IP hosts)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)
                                             ) as session:
                ws = await session.ws_connect(tab_url(url), origin=url)
                deadline = time.monotonic() + 20
                seen = ""
                while "alice (advisor" not in ANSI.sub("", seen):
                    assert time.monotonic() < deadline, ANSI.sub("", seen)[-1500:]
                    msg = await ws.receive(timeout=deadline - time.monotonic())
                    assert msg.type == aiohttp.WSMsgType.BINARY, msg
                    seen += msg.data.decode("utf-8", "replace")
                pids = processes_mentioning(str(db)) - {proc.pid}
                assert pids, "no app process for the open tab"
                if how == "ctrl+q in the app":
                    await ws.send_json(["stdin", "\x11"])
                    while (msg := await ws.receive(timeout=10)).type not in (
                            aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING):
                        pass  # the last frames, then the server closes the tab
                else:
                    await ws.close()
                async with session.get(page_url(url)) as page:  # still serving
                    assert page.status == 200
                return pids

        pids = asyncio.run(tab())
        deadline = time.monotonic() + 10
        while left := {p for p in pids if alive(p)}:
            assert time.monotonic() < deadline, f"the tab's app is still running: {left}"
            time.sleep(0.05)
        assert proc.poll() is None, "the server stopped with the tab"
    finally:
        code = stop_serve(proc, timeout=15)
    assert code == 0, log.read_text()


def test_item2_serve_obeys_only_its_own_page(tmp_path: Path) -> None:
    """Adversary: a web page on http://evil.example, open in the advisor's browser while
    `plantech serve` runs, opens a websocket to 127.0.0.1:PORT (even knowing the token), or
    rebinds its own name to 127.0.0.1 (Host: evil.example:PORT), or guesses no token at all,
    to read the advisor's screen and type keys as them. Every such attempt is refused before
    an app process starts; only the printed URL's token, from the served origin, gets a tab."""
    db = tmp_path / "item2.db"
    Workspace.open(db, "alice").close()
    proc, url, log = start_serve(tmp_path, "--db", str(db), "--user", "alice")
    token = TOKENS[url]
    port = url.rsplit(":", 1)[1]
    ws_base = f"{url.replace('http', 'ws', 1)}/ws?width=100&height=30"

    def tabs() -> set[int]:
        return processes_mentioning(str(db)) - {proc.pid}

    async def attempt(session: aiohttp.ClientSession, ws_url: str, origin: str | None,
                      host: str | None = None) -> object:
        headers = {"Host": host} if host else {}
        try:
            async with session.ws_connect(ws_url, origin=origin, headers=headers) as ws:
                msg = await ws.receive(timeout=15)
                return ("opened", msg.type, len(msg.data) if msg.type ==
                        aiohttp.WSMsgType.BINARY else 0)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status

    async def attack() -> dict[str, object]:
        got: dict[str, object] = {}
        async with aiohttp.ClientSession() as s:
            got["evil origin, right token"] = await attempt(
                s, f"{ws_base}&token={token}", "http://evil.example")
            got["no origin, right token"] = await attempt(s, f"{ws_base}&token={token}", None)
            got["other local port origin"] = await attempt(
                s, f"{ws_base}&token={token}", "http://127.0.0.1:1")
            got["right origin, no token"] = await attempt(s, ws_base, url)
            got["right origin, wrong token"] = await attempt(
                s, f"{ws_base}&token={'x' * len(token)}", url)
            got["rebound host"] = await attempt(
                s, f"{ws_base}&token={token}", f"http://evil.example:{port}",
                host=f"evil.example:{port}")
            for name, path, headers in [
                    ("page, no token", "/", {}),
                    ("page, wrong token", "/?token=nope", {}),
                    ("page, rebound host", f"/?token={token}", {"Host": f"evil.example:{port}"}),
                    ("download, no token", "/download/somekey", {}),
                    ("post, evil origin", f"/?token={token}", {"Origin": "http://evil.example"}),
            ]:
                method = "POST" if name.startswith("post") else "GET"
                async with s.request(method, url + path, headers=headers,
                                     allow_redirects=False) as r:
                    body = await r.text()
                    assert "<html" not in body.lower() and "textual" not in body.lower(), body
                    got[name] = r.status
        return got

    try:
        got = asyncio.run(attack())
        assert all(v in (403, 421) for v in got.values()), got
        assert not tabs(), "a refused request started an app process"

        async def the_advisor() -> tuple[str, str, set[int]]:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as s:
                async with s.get(f"{url}/?token={token}", allow_redirects=False) as r:
                    assert r.status in (302, 303), r.status
                    assert "token" not in r.headers["Location"]  # out of the address bar
                    cookie = r.headers["Set-Cookie"]
                    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
                async with s.get(url + "/") as r:  # the page, through the cookie
                    assert r.status == 200
                    page = await r.text()
                    assert "PlanTech" in page and token not in page
                    # no other page (say, a dev server on another local port) may frame it
                    assert r.headers["X-Frame-Options"] == "DENY"
                    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
                async with s.get(url + "/download/no-such-key") as r:
                    assert r.status == 404  # past the token check, just no such download
                async with s.ws_connect(ws_base, origin=url) as ws:  # cookie, no token in URL
                    seen = ""
                    while "alice (advisor" not in ANSI.sub("", seen):
                        msg = await ws.receive(timeout=20)
                        assert msg.type == aiohttp.WSMsgType.BINARY, msg
                        seen += msg.data.decode("utf-8", "replace")
                    pids = tabs()
                    environ = b"".join(Path(f"/proc/{p}/environ").read_bytes() +
                                       Path(f"/proc/{p}/cmdline").read_bytes() for p in pids)
                    return seen, environ.decode("utf-8", "replace"), pids

        seen, environ, pids = asyncio.run(the_advisor())
        assert pids and token not in environ, "the token reached the app process"
    finally:
        code = stop_serve(proc, timeout=15)
    output = log.read_text()
    assert code == 0, output
    assert output.count(token) == 1, "the token is printed once, in the URL, and never logged"


def test_item2_guard_names_origins_and_tokens() -> None:
    """Adversary: a DNS-rebinding page (its own name in Host), a page on another local port
    (same site for cookies), and a token guesser. The Guard's rules, one by one."""
    guard = Guard("127.0.0.1", 8101)
    other = Guard("127.0.0.1", 8101)
    assert len(guard.token) >= 40 and guard.token != other.token, "random, new each start"
    assert guard.token_ok(guard.token)
    assert not guard.token_ok(None) and not guard.token_ok("") and not guard.token_ok(
        other.token) and not guard.token_ok(guard.token[:-1]) and not guard.token_ok("é")
    for host in ("127.0.0.1:8101", "localhost:8101", "[::1]:8101", "LOCALHOST:9000",
                 "127.0.0.1"):  # any port: an SSH tunnel may map another local port here
        assert guard.host_ok(host), host
    for host in ("evil.example:8101", "evil.example", "127.0.0.1.nip.io:8101", "", None,
                 "0.0.0.0:8101", "localhost.evil.example:8101", "[::2]:8101",
                 "evil.example@127.0.0.1:8101", "127.0.0.1:8101/x@evil.example",
                 "127.0.0.1:8101 ", "127.0.0.1:80a"):  # user info, a path: not a Host
        assert not guard.host_ok(host), host
    assert Guard.origin_ok("http://127.0.0.1:8101", "127.0.0.1:8101")
    assert Guard.origin_ok("http://localhost:9000", "localhost:9000")
    for origin in (None, "null", "http://evil.example", "http://127.0.0.1:3000",
                   "https://127.0.0.1:8101", "http://localhost:8101"):
        assert not Guard.origin_ok(origin, "127.0.0.1:8101"), origin
    remote = Guard("0.0.0.0", 8000, ("plans.example.com",))
    assert remote.host_ok("plans.example.com:8000") and remote.host_ok("127.0.0.1:8000")
    assert not remote.host_ok("0.0.0.0:8000") and not remote.host_ok("evil.example:8000")
    assert Guard("10.0.0.5", 8000).host_ok("10.0.0.5:8000")
