"""Headless Debian chromium driven over the DevTools protocol (CDP), for the browser test.

The websocket client is aiohttp's (already installed: textual-serve serves with it). The app
draws on a canvas, so the screen is read from xterm.js' own buffer: a script installed before
the page's own scripts catches textual-serve's terminal object when its constructor sets
`websocket_url`, and `screen_text()` reads the visible rows through xterm's public buffer API.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]

XTERM_HOOK = r"""
(() => {
  Object.defineProperty(Object.prototype, 'websocket_url', {
    configurable: true,
    set(value) {
      Object.defineProperty(this, 'websocket_url',
        {value, writable: true, configurable: true, enumerable: true});
      window.__textualTerminal = this;
    },
  });
  window.__screenText = () => {
    const term = window.__textualTerminal && window.__textualTerminal.terminal;
    if (!term) return null;
    const buffer = term.buffer.active, rows = [];
    for (let y = 0; y < term.rows; y++) {
      const line = buffer.getLine(buffer.viewportY + y);
      rows.push(line ? line.translateToString(true) : '');
    }
    return rows.join('\n');
  };
})();
"""

# key → (key, code, windowsVirtualKeyCode, text) for Input.dispatchKeyEvent
KEYS: dict[str, tuple[str, str, int, str]] = {
    "enter": ("Enter", "Enter", 13, "\r"),
    "escape": ("Escape", "Escape", 27, ""),
    "down": ("ArrowDown", "ArrowDown", 40, ""),
    "up": ("ArrowUp", "ArrowUp", 38, ""),
}


def _key(name: str) -> tuple[str, str, int, str]:
    if name in KEYS:
        return KEYS[name]
    if len(name) == 1 and name.isalpha():
        return (name, f"Key{name.upper()}", ord(name.upper()), name)
    raise ValueError(f"no key mapping for {name!r}")


class Chromium:
    """One headless chromium with a fresh, empty profile under `root`."""

    def __init__(self, root: Path, width: int = 1200, height: int = 800) -> None:
        self.profile = root / "chromium-profile"
        self.profile.mkdir(parents=True)
        self.log = root / "chromium.log"
        self.width, self.height = width, height
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 20.0) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["chromium", *FLAGS, f"--user-data-dir={self.profile}",
                 f"--window-size={self.width},{self.height}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        # with --remote-debugging-port=0 chromium writes the port it chose into the profile
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (active.exists() and active.read_text().strip()):
            if self.proc.poll() is not None:
                raise AssertionError(f"chromium exited ({self.proc.returncode}):\n"
                                     f"{self.log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("chromium never opened its DevTools port")
            time.sleep(0.05)
        self.port = int(active.read_text().split()[0])

    def page_ws_url(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
            targets = json.load(r)
        return str(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])

    def stop(self) -> None:
        """End chromium and its helpers: its own process group (started in a new session)."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue


class Page:
    """A CDP session on one page target: commands by id, events ignored."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            future = self.waiting.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("DevTools connection closed"))

    async def call(self, method: str, timeout: float = 15.0, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[msg_id] = future
        await self.ws.send_json({"id": msg_id, "method": method, "params": params})
        data = await asyncio.wait_for(future, timeout)
        if "error" in data:
            raise AssertionError(f"{method}: {data['error']}")
        return dict(data["result"])

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str, width: int, height: int) -> None:
        await self.call("Page.enable")
        # headless windows never have the OS focus: without this, focus events never fire
        # and Textual, told the page is blurred, empties its footer
        await self.call("Emulation.setFocusEmulationEnabled", enabled=True)
        await self.call("Page.addScriptToEvaluateOnNewDocument", source=XTERM_HOOK)
        await self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)
        await self.call("Page.navigate", url=url)

    async def screen_text(self) -> str:
        return str(await self.evaluate("window.__screenText ? window.__screenText() : null")
                   or "")

    async def wait_for_text(self, *texts: str, timeout: float = 20.0) -> str:
        """Poll the terminal buffer until every text shows: a deadline, not a sleep."""
        deadline = time.monotonic() + timeout
        while True:
            screen = await self.screen_text()
            if all(t in screen for t in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts!r} never showed; the screen was:\n{screen}")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))

    async def focus_terminal(self) -> None:
        await self.evaluate("window.__textualTerminal.terminal.focus()")

    async def press(self, name: str) -> None:
        key, code, vk, text = _key(name)
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": code,
                                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
        if text:
            down["text"] = down["unmodifiedText"] = text
        await self.call("Input.dispatchKeyEvent", **down)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                        windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
