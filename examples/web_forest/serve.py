"""Serve the web forest on 127.0.0.1: the page, the JS runtime, Phaser, onnxruntime-web,
one bundle and (optionally) one baked atlas.

    npm ci                                   # phaser + onnxruntime-web into node_modules/
    make demo                                # out/demo/plants.avae.onnx
    assetvae bake out/demo/plants.avae.onnx --class pine --class mushroom -n 6 --seed 7 \\
        -o out/demo/forest_atlas             # optional: props from a baked atlas
    python examples/web_forest/serve.py --atlas out/demo/forest_atlas.json
    # open http://127.0.0.1:8766/   (?seed=8&count=300 for another world)

Only these folders are served, nothing else of the checkout: examples/web_forest/,
plugin_api/js/, node_modules/phaser/dist/, node_modules/onnxruntime-web/dist/, and the bundle
(with its sidecar) and the atlas (JSON + PNG) given on the command line.
Standard library only (the page does all the work in the browser).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOUNTS = {  # URL prefix -> folder
    "/": ROOT / "examples" / "web_forest",
    "/js/": ROOT / "plugin_api" / "js",
    "/phaser/": ROOT / "node_modules" / "phaser" / "dist",
    "/ort/": ROOT / "node_modules" / "onnxruntime-web" / "dist",
}


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def __init__(self, *args, mounts: dict[str, Path], config: dict, quiet: bool, **kw):
        self.mounts, self.config, self.quiet = mounts, config, quiet
        super().__init__(*args, directory=str(mounts["/"]), **kw)

    def log_message(self, fmt, *args):
        if not self.quiet:
            super().log_message(fmt, *args)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        # Cross-origin isolation: lets onnxruntime-web decode with several threads.
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def translate_path(self, path: str) -> str:
        route = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if route.startswith(prefix):
                base = self.mounts[prefix]
                if not prefix.endswith("/"):  # a single mounted file
                    return str(base) if route == prefix else ""
                target = (base / route[len(prefix) :]).resolve()
                return str(target) if target.is_relative_to(base.resolve()) else ""
        return ""

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path == "/config.json":
            body = json.dumps(self.config).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def list_directory(self, path):  # no folder listings
        self.send_error(404)
        return None


def make_server(
    bundle: Path, atlas: Path | None = None, port: int = 0, quiet: bool = True
) -> ThreadingHTTPServer:
    """A server for the page (port 0: any free port); call serve_forever() on it."""
    bundle = Path(bundle).resolve()
    mounts = dict(MOUNTS)
    mounts[f"/bundle/{bundle.name}"] = bundle
    side = bundle.with_name(bundle.name.removesuffix(".onnx") + ".json")
    mounts[f"/bundle/{side.name}"] = side
    config = {"bundle": f"/bundle/{urllib.parse.quote(bundle.name)}", "atlas": None}
    if atlas is not None:
        atlas = Path(atlas).resolve()
        image = json.loads(atlas.read_text(encoding="utf-8"))["meta"]["image"]
        png = atlas.with_name(Path(image).name)
        mounts[f"/atlas/{atlas.name}"] = atlas
        mounts[f"/atlas/{png.name}"] = png
        config["atlas"] = {
            "json": f"/atlas/{urllib.parse.quote(atlas.name)}",
            "png": f"/atlas/{urllib.parse.quote(png.name)}",
        }
    handler = partial(_Handler, mounts=mounts, config=config, quiet=quiet)
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "out/demo/plants.avae.onnx")
    p.add_argument("--atlas", type=Path, help="a baked atlas's JSON (assetvae bake -o NAME)")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    args = p.parse_args(argv)
    for path in [args.bundle] + ([args.atlas] if args.atlas else []):
        if not path.is_file():
            print(f"error: {path}: no such file (make demo writes the bundle)", file=sys.stderr)
            return 2
    if not (ROOT / "node_modules" / "phaser" / "dist").is_dir():
        print("error: node_modules/phaser missing: run `npm ci` in the checkout", file=sys.stderr)
        return 2
    server = make_server(args.bundle, args.atlas, args.port, quiet=False)
    print(f"web forest: http://127.0.0.1:{server.server_address[1]}/")
    if args.seconds:
        threading.Timer(args.seconds, server.shutdown).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
