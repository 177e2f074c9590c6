"""`plantech serve` in Debian's headless chromium, driven over the DevTools protocol: the Plans
screen shows, a screenshot is taken, one key (`p`, Pause) changes what is stored, and SIGTERM
stops the server with no app process left behind (SPEC §10)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from plantech_tui.service.workspace import Workspace
from tests.conftest import need_tool
from tests.e2e.cdp import Chromium, Page
from tests.e2e.procs import alive, processes_mentioning, wait_for_line
from tests.helpers import make_integration, stage

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1200, 800


def prepare(db: Path) -> tuple[int, int]:
    """A plan with one linked (active) Redtail account and no linked contacts, so opening
    the plan starts no pull: the only write the test causes is its key."""
    ws = Workspace.open(db, "alice")
    plan = ws.create_plan("Browser Family", ["Ada Browser"])
    integration = make_integration(ws, ws.user.id)
    staged = stage(ws, plan.id, integration, 5001, balance="1234.50", company="Vanguard",
                   number_last4="7788")
    account = ws.add_to_plan(plan.id, staged, {})
    ws.close()
    return plan.id, account.id


def link_state(db: Path, account_id: int) -> str | None:
    with sqlite3.connect(db, timeout=5) as conn:
        row = conn.execute("SELECT link_state FROM staged_accounts WHERE linked_account_id = ?",
                           [account_id]).fetchone()
    return row[0] if row else None


def child_pids(pid: int) -> set[int]:
    """Every descendant of `pid` (from /proc/PID/task/*/children)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


async def drive(url: str, chromium: Chromium, db: Path, account_id: int, shot: Path) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(
            chromium.page_ws_url(), max_msg_size=0) as ws:
        page = Page(ws)
        try:
            await page.open(url, WIDTH, HEIGHT)
            plans = await page.wait_for_text("Plans", "Browser Family", "alice (advisor",
                                              timeout=30)
            assert re.search(r"Browser Family\s+never\s+—\s+\$1,234\.50", plans), plans
            assert await page.evaluate("document.title") == "PlanTech — alice"
            # the token left the address bar, and the page's scripts cannot read its cookie
            assert "token" not in await page.evaluate("location.href")
            assert await page.evaluate("document.cookie") == ""
            # Textual empties the footer while the app is blurred: focus the terminal first
            await page.focus_terminal()
            await page.wait_for_text("n New plan")
            await page.screenshot(shot)
            await page.press("enter")
            await page.wait_for_text("Investment Assets", "Vanguard 7788", "active")
            assert link_state(db, account_id) == "active"
            await page.press("p")  # the one key that changes what is stored: Pause
            deadline = time.monotonic() + 10
            while link_state(db, account_id) != "paused":
                assert time.monotonic() < deadline, "Pause never reached the database"
                await asyncio.sleep(0.05)
            await page.wait_for_text("paused")
        finally:
            await page.close()


def test_serve_in_chromium_pause_one_account(tmp_path: Path) -> None:
    need_tool("chromium")
    started = time.monotonic()
    db = tmp_path / "browser.db"
    _plan_id, account_id = prepare(db)
    serve_log = tmp_path / "serve.log"
    with open(serve_log, "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "plantech_tui", "serve", "--port", "0", "--db", str(db),
             "--user", "alice"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    chromium = Chromium(tmp_path, WIDTH, HEIGHT)
    tab_pids: set[int] = set()
    try:
        line = wait_for_line(serve_log, "plantech: serving", timeout=20, proc=serve)
        # the printed URL carries the start's token; the page keeps it in a cookie
        url = re.search(r"on (http://127\.0\.0\.1:\d+/\?token=[\w-]{40,}) ", line)
        assert url, line
        chromium.start()
        shot = tmp_path / "plans.png"
        asyncio.run(asyncio.wait_for(drive(url.group(1), chromium, db, account_id, shot), 40))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
        print(f"screenshot: {shot}")
        tab_pids = child_pids(serve.pid)
        assert tab_pids, "no app process was running for the browser tab"
    finally:
        chromium.stop()
        serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
            raise AssertionError("plantech serve did not stop on SIGTERM") from None
    output = serve_log.read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output, output
    deadline = time.monotonic() + 5  # an orphan would be reparented, not gone: poll briefly
    while left := {p for p in tab_pids if alive(p)} | processes_mentioning(str(db)):
        assert time.monotonic() < deadline, f"app processes left behind: {left}"
        time.sleep(0.05)
    assert time.monotonic() - started < 60
