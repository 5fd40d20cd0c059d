"""`assetvae studio BUNDLE`: a local page to explore a bundle, decoded live in the browser.

The page (plugin_api/js/studio/) runs the JavaScript runtime (plugin_api/js/) with
onnxruntime-web's WebAssembly build: pick a class, spread, seed, truncation, a blend partner
and t, and a grid of variants decodes in the browser. A click on a variant shows its (seed,
key) and snippets that reproduce it in Python and JavaScript; "bake" asks this server to
write the grid's selection as an atlas through the Python API (plugin_api.atlas.bake_atlas).

The server binds 127.0.0.1 only, answers only requests addressed to that host (no DNS-rebound
name), serves nothing outside its own folders, and accepts a bake only as a same-origin JSON
request (no other site can trigger one).
Standard library only; never imports torch.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
import threading
import urllib.parse
import webbrowser
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .errors import AssetVAEError

JS_DIR = Path(__file__).resolve().parents[1] / "plugin_api" / "js"
if not JS_DIR.is_dir():  # installed: the runtime package holds the JS files
    JS_DIR = Path(__file__).resolve().parent / "plugin_api" / "js"
STUDIO_DIR = JS_DIR / "studio"
ORT_WEB_VERSION = "1.30.0"  # the onnxruntime-web the page is tested with (package.json)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MAX_BAKE_VARIANTS = 4096  # per bake from the page (the CLI's bake has no such limit)
MAX_BODY = 64 * 1024
TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
}


class StudioError(AssetVAEError):
    """The studio cannot start as asked: no onnxruntime-web to serve, a bad port."""


def find_ort_web(explicit: str | os.PathLike | None = None) -> Path:
    """The folder holding onnxruntime-web's WebAssembly build (its dist/ folder).

    Looked for in: `explicit` (--ort), $ASSETVAE_ORT_WEB, then node_modules/onnxruntime-web/dist
    in the current folder, its parents, and the source checkout this module runs from.
    """
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit))
    elif os.environ.get("ASSETVAE_ORT_WEB"):
        candidates.append(Path(os.environ["ASSETVAE_ORT_WEB"]))
    else:
        for base in (Path.cwd(), *Path.cwd().parents, JS_DIR.parents[1]):
            candidates.append(base / "node_modules" / "onnxruntime-web" / "dist")
    for c in candidates:
        if (c / "dist" / ORT_FILES[0]).is_file():
            c = c / "dist"  # the package folder instead of its dist/
        if all((c / f).is_file() for f in ORT_FILES):
            return c.resolve()
    where = candidates[0] if explicit is not None or len(candidates) == 1 else "node_modules"
    raise StudioError(
        f"onnxruntime-web's WebAssembly build was not found (looked in {where}); the page "
        f"decodes with it. Run `npm install onnxruntime-web@{ORT_WEB_VERSION}` here (or `npm ci` "
        "in the assetvae checkout), or pass --ort DIR (a folder holding "
        f"{', '.join(ORT_FILES)})"
    )


@dataclass
class Studio:
    """What one studio serves: a bundle, the JS runtime, onnxruntime-web, and bakes."""

    bundle: Path
    ort_dir: Path
    out_dir: Path
    python_error: str | None = None  # the Python runtime's refusal, if it refused the bundle
    bakes: list[dict[str, Any]] = field(default_factory=list)
    _gen: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sidecar(self) -> Path:
        return self.bundle.with_name(self.bundle.name.removesuffix(".onnx") + ".json")

    def info(self) -> dict[str, Any]:
        quoted = urllib.parse.quote(self.bundle.name)
        return {
            "bundle": self.bundle.name,
            "url": f"/bundle/{quoted}",
            "sidecar": self.sidecar.is_file(),
            "python_error": self.python_error,
            "out_dir": str(self.out_dir),
            "ort_web": ORT_WEB_VERSION,
            "max_bake": MAX_BAKE_VARIANTS,
        }

    def generator(self):
        from .plugin_api import Generator

        with self._lock:
            if self._gen is None:
                self._gen = Generator.load(self.bundle, device="cpu")
            return self._gen

    def bake(self, req: dict[str, Any]) -> dict[str, Any]:
        """Bake keys first_key .. first_key+n-1 of one class or blend, as the grid shows."""
        from .plugin_api.atlas import Blend, bake_atlas

        seed = _u64(req.get("seed"), "seed")
        first = _u64(req.get("first_key", 0), "first key")
        n = req.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_BAKE_VARIANTS:
            raise StudioError(f"n must be 1 to {MAX_BAKE_VARIANTS}, got {n!r}")
        spread, tau = req.get("spread", 1.0), req.get("truncation")
        blend = req.get("blend")
        opts: dict[str, Any] = {
            "n": n,
            "seed": seed,
            "first_key": first,
            "spread": spread,
            "truncation": tau,
        }
        if blend:
            b = Blend(str(blend.get("a")), str(blend.get("b")), float(blend.get("t")))
            opts["blends"], label = [b], f"{b.a}~{b.b}@{b.t:g}"
        else:
            cls = req.get("cls")
            if not isinstance(cls, str):
                raise StudioError("cls must be a class name")
            opts["classes"], label = [cls], cls
        safe = "".join(ch if ch.isalnum() or ch in "-_.@~" else "_" for ch in label)
        stem = self.out_dir / f"{safe}_seed{seed}_keys{first}-{first + n - 1}"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        result = bake_atlas(self.generator(), stem, **opts)
        done = {
            "paths": [str(p) for p in result.paths],
            "frames": result.frames,
            "pages": [list(p) for p in result.pages],
        }
        self.bakes.append(done)
        return done

    def close(self) -> None:
        with self._lock:
            if self._gen is not None and hasattr(self._gen, "close"):
                self._gen.close()
            self._gen = None


def _u64(value: Any, what: str) -> int:
    try:
        v = int(str(value), 10)
    except ValueError:
        raise StudioError(f"{what} must be a decimal integer, got {value!r}") from None
    if not 0 <= v < 2**64:
        raise StudioError(f"{what} must be in [0, 2**64), got {v}")
    return v


def _under(root: Path, rel: str) -> Path | None:
    """root/rel if it is a file inside root (no '..', no links out), else None."""
    path = (root / rel).resolve()
    return path if path.is_file() and path.is_relative_to(root.resolve()) else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the CLI prints what matters
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # Cross-origin isolation: lets onnxruntime-web use threads (SharedArrayBuffer).
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._send(status, json.dumps(doc).encode("utf-8"), "application/json")

    def _file(self, path: Path | None) -> None:
        if path is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        ctype = (
            TYPES.get(path.suffix)
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream"
        )
        self._send(HTTPStatus.OK, path.read_bytes(), ctype)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _host_ok(self) -> bool:
        """Only requests addressed to this server's own host (no DNS-rebound name)."""
        host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        return self.headers.get("Host") in (host, host.replace("127.0.0.1", "localhost"))

    def do_GET(self) -> None:  # noqa: N802
        studio = self.server.studio
        if not self._host_ok():
            self._json(HTTPStatus.FORBIDDEN, {"error": "wrong host"})
            return
        route = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if route in ("/", "/index.html"):
            self._file(_under(STUDIO_DIR, "index.html"))
        elif route.startswith("/studio/"):
            self._file(_under(STUDIO_DIR, route.removeprefix("/studio/")))
        elif route.startswith("/js/"):
            rel = route.removeprefix("/js/")
            self._file(_under(JS_DIR, rel) if rel.endswith(".js") else None)
        elif route.startswith("/ort/"):
            self._file(_under(studio.ort_dir, route.removeprefix("/ort/")))
        elif route == f"/bundle/{studio.bundle.name}":
            self._file(studio.bundle if studio.bundle.is_file() else None)
        elif route == f"/bundle/{studio.sidecar.name}":
            self._file(studio.sidecar if studio.sidecar.is_file() else None)
        elif route == "/api/info":
            self._json(HTTPStatus.OK, studio.info())
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if urllib.parse.urlsplit(self.path).path != "/api/bake":
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        allowed = {host, host.replace("127.0.0.1", "localhost")}
        origin = self.headers.get("Origin")
        if (
            not self._host_ok()
            or (origin is not None and urllib.parse.urlsplit(origin).netloc not in allowed)
            or self.headers.get_content_type() != "application/json"
        ):
            self._json(HTTPStatus.FORBIDDEN, {"error": "bakes are taken from the studio page only"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad request size"})
            return
        try:
            req = json.loads(self.rfile.read(length))
            if not isinstance(req, dict):
                raise StudioError("a bake request is a JSON object")
            self._json(HTTPStatus.OK, self.server.studio.bake(req))
        except (AssetVAEError, ValueError, TypeError) as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, studio: Studio, port: int, verbose: bool):
        self.studio = studio
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


def make_server(
    bundle: str | os.PathLike,
    *,
    port: int = 0,
    out_dir: str | os.PathLike = "bakes",
    ort: str | os.PathLike | None = None,
    check: bool = True,
    verbose: bool = False,
) -> _Server:
    """A studio server for `bundle` on 127.0.0.1:port (0: any free port); not yet serving.

    check: open the bundle with the Python runtime first and raise its BundleError; with
    check=False a bad bundle is served anyway and the page shows the JS runtime's message.
    """
    from .plugin_api.bundle import read_manifest

    bundle = Path(bundle).resolve()
    error = None
    try:
        read_manifest(bundle)
    except AssetVAEError as e:
        if check:
            raise
        error = str(e)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise StudioError(f"--port {port!r} is out of range: use 0 (any free port) to 65535")
    studio = Studio(bundle, find_ort_web(ort), Path(out_dir).resolve(), python_error=error)
    try:
        return _Server(studio, port, verbose)
    except OSError as e:
        raise StudioError(f"cannot listen on 127.0.0.1:{port} ({e.strerror})") from None


def serve(server: _Server, *, open_browser: bool = True, seconds: float | None = None) -> None:
    """Serve until Ctrl-C (or for `seconds`), opening the page in the default browser."""
    if open_browser:
        threading.Timer(0.3, webbrowser.open, (server.url,)).start()
    stopper = None
    if seconds is not None and math.isfinite(seconds):
        stopper = threading.Timer(seconds, server.shutdown)
        stopper.daemon = True
        stopper.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if stopper is not None:
            stopper.cancel()
        server.server_close()
        server.studio.close()
