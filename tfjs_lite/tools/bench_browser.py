"""The browser side of ``tfjs-lite bench``: a local server for the page and a headless Chromium.

``BenchServer`` serves, on 127.0.0.1 only, the page (``js/page.html`` + ``page.js`` +
``bench_core.js``), the TF.js 4.22 browser bundles and ``.wasm`` files from the pinned npm packages,
the model folders and a ``config.json`` describing the run. Nothing else is reachable: every path
is looked up in a fixed table or inside a model folder.

``Chromium`` starts a headless Chromium and talks the DevTools protocol over
``--remote-debugging-pipe`` (file descriptors 3 and 4, JSON messages ended by a NUL byte), so no
websocket library or Puppeteer download is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from tfjs_lite.tools.bench_runtime import JS_DIR

__all__ = ["CHROMIUM_ENV", "BenchServer", "Chromium", "find_chromium", "run_in_browser"]

CHROMIUM_ENV = "TFJS_LITE_CHROMIUM"
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_PAGE_FILES = {"": "page.html", "index.html": "page.html", "page.js": "page.js", "bench_core.js": "bench_core.js"}
# Browser bundle -> npm package that ships it under dist/.
_BUNDLES = {
    "tf-core.min.js": "@tensorflow/tfjs-core",
    "tf-backend-cpu.min.js": "@tensorflow/tfjs-backend-cpu",
    "tf-backend-webgl.min.js": "@tensorflow/tfjs-backend-webgl",
    "tf-backend-wasm.min.js": "@tensorflow/tfjs-backend-wasm",
    "tf-backend-webgpu.min.js": "@tensorflow/tfjs-backend-webgpu",
    "tf-converter.min.js": "@tensorflow/tfjs-converter",
    "tf-layers.min.js": "@tensorflow/tfjs-layers",
    "tfjs-backend-wasm.wasm": "@tensorflow/tfjs-backend-wasm",
    "tfjs-backend-wasm-simd.wasm": "@tensorflow/tfjs-backend-wasm",
    "tfjs-backend-wasm-threaded-simd.wasm": "@tensorflow/tfjs-backend-wasm",
}
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".json": "application/json", ".wasm": "application/wasm"}


def find_chromium(given: Optional[str] = None) -> str:
    """``--chromium`` PATH, else ``$TFJS_LITE_CHROMIUM``, else the first Chromium/Chrome on the PATH."""
    from tfjs_lite.errors import UsageError

    for candidate in (given, os.environ.get(CHROMIUM_ENV)):
        if candidate:
            found = shutil.which(candidate)
            if found is None:
                raise UsageError(f"Chromium not found at {candidate}")
            return found
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError(
        "--browser needs Chromium or Chrome: install it (e.g. apt-get install chromium) "
        f"or give its path with --chromium or {CHROMIUM_ENV}"
    )


class BenchServer:
    """Serves the page, bundles, models and ``config.json`` on 127.0.0.1 (a thread; a context manager)."""

    def __init__(self, node_modules: Path, model_dirs: Sequence[Path], config: Mapping[str, Any],
                 port: int = 0) -> None:
        self.node_modules = Path(node_modules)
        self.model_dirs = [Path(d).resolve() for d in model_dirs]
        self.config_bytes = json.dumps(config).encode("utf-8")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._serve(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> BenchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _resolve(self, path: str) -> Optional[Path]:
        path = path.split("?", 1)[0].lstrip("/")
        if path in _PAGE_FILES:
            return JS_DIR / _PAGE_FILES[path]
        head, _, rest = path.partition("/")
        if head == "tfjs" and rest in _BUNDLES:
            return self.node_modules / _BUNDLES[rest] / "dist" / rest
        if head == "models":
            index, _, name = rest.partition("/")
            if index.isdigit() and int(index) < len(self.model_dirs) and name:
                root = self.model_dirs[int(index)]
                target = (root / name).resolve()
                if target.is_file() and root in target.parents:
                    return target
        return None

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.split("?", 1)[0] == "/config.json":
            body, kind = self.config_bytes, _TYPES[".json"]
        else:
            target = self._resolve(request.path)
            if target is None or not target.is_file():
                request.send_error(404)
                return
            body = target.read_bytes()
            kind = _TYPES.get(target.suffix, "application/octet-stream")
        request.send_response(200)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-store")
        # Cross-origin isolation: finer performance.now() (5 us instead of 100 us) and
        # SharedArrayBuffer, which the multi-threaded wasm backend needs. Everything is same-origin.
        request.send_header("Cross-Origin-Opener-Policy", "same-origin")
        request.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        request.end_headers()
        request.wfile.write(body)


def _above(fd: int, lowest: int) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe``; a context manager."""

    def __init__(self, executable: str, *, webgl: bool = True) -> None:
        self.executable = executable
        self.webgl = webgl
        self.proc: Optional[subprocess.Popen] = None
        self.session: Optional[str] = None
        self._profile: Optional[str] = None
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self._closed = False

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="tfjs-lite-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies_fd, replies_write = os.pipe()
        # Move the child's ends above 4 so the shell's "3<&N 4>&M" cannot overwrite one with the other.
        commands_read, replies_write = (_above(fd, 10) for fd in (commands_read, replies_write))
        flags = [
            "--headless", "--remote-debugging-pipe", "--no-sandbox", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
            f"--user-data-dir={self._profile}", "--window-size=1000,1200",
        ]
        if self.webgl:
            # No GPU on servers: WebGL then runs on SwiftShader, Chromium's CPU implementation.
            flags += ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
        # Chromium reads commands on fd 3 and writes replies on fd 4: a tiny Python trampoline puts
        # the pipe ends there (the fds are >= 10, so neither dup2 overwrites the other) and execs it.
        trampoline = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(commands_read), str(replies_write), self.executable, *flags, "about:blank"],
            pass_fds=(commands_read, replies_write),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        threading.Thread(target=self._read_replies, daemon=True).start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Runtime.enable")
        self.call("Page.enable")
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.call("Browser.close", session=False, timeout=5)
                self.proc.wait(timeout=10)
        except Exception:  # closing politely failed: kill our own process below
            pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._commands, self._replies_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)

    def _read_replies(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._replies_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                    self._cond.notify_all()

    def call(self, method: str, params: Optional[dict] = None, *, session: bool = True,
             timeout: float = 30.0) -> dict:
        """Send one DevTools command and wait for its reply; returns ``result``."""
        from tfjs_lite.errors import UsageError

        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._next_id not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    what = "exited" if self._closed else f"did not answer {method} within {timeout:g} s"
                    raise UsageError(f"Chromium {what}")
                self._cond.wait(left)
            reply = self._replies.pop(self._next_id)
        if "error" in reply:
            raise UsageError(f"Chromium refused {method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """Evaluate ``expression`` in the page (awaiting a promise) and return its JSON value."""
        from tfjs_lite.errors import UsageError

        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise UsageError(f"the page failed: {' '.join(str(text).split())[:300]}")
        return result.get("result", {}).get("value")

    def open(self, url: str, ready: str, timeout: float = 60.0) -> None:
        """Navigate to ``url`` and wait until the JavaScript ``ready`` expression is true."""
        from tfjs_lite.errors import UsageError

        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(f"Boolean({ready})", timeout=10):
                    return
            except UsageError:
                pass  # the page is still loading its scripts
            time.sleep(0.1)
        raise UsageError(f"the bench page did not become ready within {timeout:g} s")

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def console_messages(self) -> list[str]:
        with self._cond:
            events = list(self._events)
        lines = []
        for event in events:
            if event.get("method") == "Runtime.consoleAPICalled":
                args = event["params"].get("args", [])
                lines.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        return lines


def page_config(request: Mapping[str, Any], model_paths: Sequence[str]) -> dict[str, Any]:
    """``config.json``: the request with model folders replaced by their URLs on the server."""
    models = [
        {"label": m["label"], "kind": m["kind"], "url": f"models/{i}/model.json", "path": str(model_paths[i])}
        for i, m in enumerate(request["models"])
    ]
    settings = {k: request[k] for k in ("backend", "runs", "warmup")}
    page_request = {k: v for k, v in request.items() if k not in ("models", "backend", "runs", "warmup")}
    page_request["models"] = models
    return {"settings": settings, "request": page_request}


def run_in_browser(request: Mapping[str, Any], node_modules: Path, *, chromium: Optional[str] = None,
                   timeout: float = 600.0, progress: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Run ``request`` (as for Node) in the page inside a headless Chromium; returns the result."""
    from tfjs_lite.errors import UnsupportedModelError, UsageError

    executable = find_chromium(chromium)
    dirs = [Path(m["dir"]) for m in request["models"]]
    config = page_config(request, [m["dir"] for m in request["models"]])
    with BenchServer(node_modules, dirs, config) as server, Chromium(executable) as browser:
        progress(f"running in {executable} (headless) via {server.url}")
        browser.open(server.url, "window.tfjsLitePage && document.getElementById('status').dataset.state === 'ready'")
        settings = json.dumps({k: request[k] for k in ("backend", "runs", "warmup")})
        response = browser.evaluate(f"tfjsLitePage.runForDriver({settings})", timeout=timeout)
        version = browser.call("Browser.getVersion", session=False).get("product", executable)
    if not response or not response.get("ok"):
        message = " ".join(str((response or {}).get("error")).split())
        if response and response.get("usage"):
            raise UsageError(message)
        raise UnsupportedModelError(f"TensorFlow.js in Chromium failed: {message}")
    result = response["result"]
    result["runtime"] = {"browser": version}
    return result
