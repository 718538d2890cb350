"""A minimal headless-Chromium driver over the DevTools protocol (stdlib only).

Chromium is started with ``--remote-debugging-pipe``: DevTools messages are NUL-terminated JSON written to
file descriptor 3 and read from file descriptor 4 of the browser process, so no websocket library, no network
port and no browser download is needed. Used for static figure export (``Plotly.toImage`` inside the page) and
by the end-to-end report tests.

The browser is found at ``$RECIPROCITY_BROWSER``, ``$BROWSER_PATH`` or as ``chromium`` / ``chromium-browser`` /
``google-chrome`` on the ``PATH`` (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
    "--hide-scrollbars", "--disable-dev-shm-usage",
)


class BrowserError(RuntimeError):
    """The browser is missing, died, or a DevTools call failed or timed out."""


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    for variable in ("RECIPROCITY_BROWSER", "BROWSER_PATH"):
        value = os.environ.get(variable)
        if value and Path(value).exists():
            return value
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class Browser:
    """One headless browser with one page; use as a context manager.

    ``console_errors`` collects console ``error`` messages, uncaught exceptions and error log entries of the page.
    """

    def __init__(self, executable: str | None = None, *, width: int = 1280, height: int = 900,
                 timeout: float = 60.0) -> None:
        self.executable = executable or find_browser()
        if not self.executable:
            raise BrowserError("no Chromium browser found: install one (Debian: apt-get install chromium) "
                               "or set RECIPROCITY_BROWSER to its path")
        self.width, self.height, self.timeout = width, height, timeout
        self.console_errors: list[str] = []
        self.console_messages: list[str] = []
        self._events: list[dict] = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.TemporaryDirectory(prefix="reciprocity-chromium-", ignore_cleanup_errors=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def _wire_fds() -> None:  # in the child: DevTools reads fd 3, writes fd 4
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self._process = subprocess.Popen(
            [self.executable, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=_wire_fds, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
            self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                      session=False)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------------ protocol
    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                written = os.write(self._to_browser, data)
                data = data[written:]
        except OSError as error:
            raise BrowserError(f"browser connection lost: {error}") from None

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError("the browser closed the DevTools pipe (did it crash?)")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def _record(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console_messages.append(f"{params.get('type')}: {text}")
            if params.get("type") in ("error", "assert"):
                self.console_errors.append(text)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text", "")
            self.console_errors.append(f"uncaught: {description}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        self._events.append(event)

    def call(self, method: str, params: dict | None = None, *, session: bool = True,
             timeout: float | None = None) -> dict:
        """Send one DevTools command and wait for its result (events meanwhile are recorded)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self._record(reply)

    def wait_for_event(self, method: str, timeout: float | None = None) -> dict:
        """Wait for (or find already received) the next event named ``method``."""
        for index, event in enumerate(self._events):
            if event.get("method") == method:
                return self._events.pop(index)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            event = self._receive(deadline)
            if "method" in event:
                self._record(event)
                if event["method"] == method:
                    self._events.remove(event)
                    return event

    # ------------------------------------------------------------------ page helpers
    def goto(self, url: str | Path, timeout: float | None = None) -> None:
        """Navigate and wait for the load event."""
        if isinstance(url, Path) or "://" not in str(url):
            url = Path(url).resolve().as_uri()
        self._events = [e for e in self._events if e.get("method") != "Page.loadEventFired"]
        result = self.call("Page.navigate", {"url": str(url)}, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired", timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float | None = None) -> Any:
        """Evaluate JavaScript in the page (promises are awaited); returns the JSON value."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text", "error"))
        return result.get("result", {}).get("value")

    def wait_until(self, expression: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for: {expression}")
            time.sleep(interval)

    def screenshot(self, path: str | Path, *, full_page: bool = False, selector: str | None = None,
                   settle: float = 0.6) -> Path:
        """Save a PNG of the viewport, the whole page, or one element (CSS selector)."""
        params: dict[str, Any] = {"format": "png"}
        resized = False
        if full_page or selector is not None:
            # make the viewport as tall as the page, so element boxes are plain page coordinates
            height = self.evaluate("document.documentElement.scrollHeight")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": self.width, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
            resized = True
            self.evaluate("window.scrollTo(0, 0)")
            time.sleep(settle)  # let the page react to the resize (e.g. responsive plots re-lay out)
            if selector is not None:
                box = self.evaluate(
                    f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                    " const boxes = [e, ...e.querySelectorAll('svg.main-svg')].map(n => n.getBoundingClientRect());"
                    " const x0 = Math.min(...boxes.map(b => b.left)), y0 = Math.min(...boxes.map(b => b.top));"
                    " const x1 = Math.max(...boxes.map(b => b.right)), y1 = Math.max(...boxes.map(b => b.bottom));"
                    " return {x: x0, y: y0, width: x1 - x0, height: y1 - y0}; })()")
            else:
                box = {"x": 0, "y": 0, "width": self.width, "height": height}
            params["clip"] = {**box, "scale": 1}
        try:
            data = self.call("Page.captureScreenshot", params)["data"]
        finally:
            if resized:
                self.call("Emulation.setDeviceMetricsOverride",
                          {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                try:
                    self._send({"id": 10**9, "method": "Browser.close", "params": {}})
                    self._process.wait(timeout=5)
                except (BrowserError, subprocess.TimeoutExpired):
                    self._process.kill()
                    self._process.wait(timeout=5)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
