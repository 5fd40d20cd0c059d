"""A pygame scene that grows a forest of unique props from a world seed at load time.

    pip install "assetvae[cpu,examples]"      # numpy, onnxruntime, pygame
    make demo                                  # writes out/demo/plants.avae.onnx
    python examples/pygame_forest.py --seed 7 --count 240
    python examples/pygame_forest.py --seed 7 --screenshot forest.png   # headless, one frame

What a game does with the runtime:

1. ``Generator.load(bundle)`` once (a ``with`` block closes it when the game ends).
2. The layout comes from the world seed through the portable seed stream
   (``assetvae.plugin_api.rng``, docs/SEEDS.md), so any port of it lays out the same world:
   prop ``i`` uses the key ``"forest/layout/<i>"``; its class is ``rng.choice`` (stream 1,
   index 0) over the bundle's classes, its x, depth, size jitter and mirroring are the
   stream-1 uniforms at indices 1, 2, 3 and 4.
3. Each prop's sprite is the variant with the string key ``"forest/<class>/<i>"``, requested
   per class with ``Generator.variants_async`` while a progress bar is drawn.
4. Props are anchored at the bottom of their opaque pixels, scaled by depth, sorted by y
   and drawn back to front over a sky and a meadow, each with a soft shadow.

The same seed gives the same frame, pixel for pixel. Keys: R re-seeds (seed + 1), Esc quits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 960, 540
HORIZON = 200  # y of the horizon: sky above, meadow below
SKY_TOP, SKY_HORIZON = (92, 148, 214), (206, 226, 238)
GRASS_FAR, GRASS_NEAR = (122, 162, 88), (62, 122, 48)
FOG = (190, 210, 214)  # far props fade toward this (aerial perspective)
CHUNK = 16  # variants per progress step
# What the game knows about its props: relative height and how common each is. The demo
# bundle's classes are listed; any other class gets the defaults.
PROPS = {
    "pine": (1.0, 3),
    "broadleaf": (1.0, 3),
    "palm": (0.95, 1),
    "cactus": (0.6, 1),
    "bush": (0.5, 2),
    "fern": (0.45, 2),
    "flower": (0.32, 2),
    "mushroom": (0.26, 1),
}
DEFAULT_PROP = (0.8, 1)
TUFTS = 900  # grass blades drawn on the meadow


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--bundle",
        type=Path,
        default=Path("out/demo/plants.avae.onnx"),
        help="assetvae bundle (default: the one `make demo` writes)",
    )
    p.add_argument("--seed", type=int, default=7, help="world seed (0 to 2**64-1)")
    p.add_argument("--count", type=int, default=240, help="number of props")
    p.add_argument("--spread", type=float, default=0.8, help="variety within each class")
    p.add_argument("--screenshot", type=Path, help="render headless, save this PNG and exit")
    return p.parse_args(argv)


# --- the world: a pure function of (bundle, seed, count) ---------------------------------
def layout(seed: int, count: int, classes: list[str]) -> dict[str, np.ndarray]:
    """Where prop i stands and which class it is, from the seed stream (no global RNG)."""
    from assetvae.plugin_api import rng

    keys = [f"forest/layout/{i}" for i in range(count)]
    if count == 0:
        z = np.zeros(0)
        return {"cls": z.astype(np.int64), "x": z, "depth": z, "size": z, "flip": z.astype(bool)}
    u = [rng.uniform_batch(seed, keys, rng.STREAM_CHOICE, index) for index in (1, 2, 3, 4)]
    depth = u[1] ** 1.5  # 0 = at the horizon, 1 = at the bottom edge; more props far away
    weights = [float(PROPS.get(c, DEFAULT_PROP)[1]) for c in classes]
    return {
        "cls": rng.choice_batch(seed, keys, weights),
        "x": -24 + u[0] * (WIDTH + 48),
        "depth": depth,
        "size": 0.85 + 0.3 * u[2],
        "flip": u[3] < 0.5,
    }


def background(seed: int) -> np.ndarray:
    """Sky gradient, two ranges of hills and a mottled meadow: uint8 [HEIGHT, WIDTH, 3]."""
    from assetvae.plugin_api import rng

    ys = np.arange(HEIGHT, dtype=np.float64)[:, None]
    xs = np.arange(WIDTH, dtype=np.float64)[None, :]
    img = np.empty((HEIGHT, WIDTH, 3), np.float64)
    t = np.clip(ys / HORIZON, 0, 1)[..., None]
    img[:] = (1 - t) * np.array(SKY_TOP) + t * np.array(SKY_HORIZON)
    # Hills: sums of sines whose phases come from the seed stream too.
    phases = (
        2
        * np.pi
        * np.array([rng.uniform(seed, "forest/hills", rng.STREAM_CHOICE, i) for i in range(6)])
    )
    for level, (base, amp, col) in enumerate(
        ((HORIZON - 46, 22, (150, 178, 190)), (HORIZON - 22, 16, (128, 164, 142)))
    ):
        ph = phases[3 * level : 3 * level + 3]
        ridge = (
            base
            - amp
            * (
                np.sin(xs / 97 + ph[0])
                + 0.6 * np.sin(xs / 41 + ph[1])
                + 0.3 * np.sin(xs / 17 + ph[2])
            )
            / 1.9
        )
        mask = (ys >= ridge) & (ys < HORIZON)
        img[mask] = np.broadcast_to(np.array(col, np.float64), img.shape)[mask]
    # Meadow: a depth gradient, mottled by value noise laid out in perspective on the ground.
    d = np.clip((ys - HORIZON) / (HEIGHT - HORIZON), 0, 1)
    grass = (1 - d)[..., None] * np.array(GRASS_FAR) + d[..., None] * np.array(GRASS_NEAR)
    tile = rng.uniform_batch(seed, [f"forest/meadow/{i}" for i in range(64 * 64)]).reshape(64, 64)
    dist = 340.0 / (np.maximum(ys - HORIZON, 0) + 12)  # ground distance of each row
    gu, gv = (xs - WIDTH / 2) * dist / 40, dist * 3
    mottle = 0.65 * _bilinear(tile, gu, gv) + 0.35 * _bilinear(tile, 3.1 * gu + 17, 3.1 * gv + 5)
    grass = grass * (0.9 + 0.2 * mottle[..., None])
    below = np.broadcast_to(ys >= HORIZON, (HEIGHT, WIDTH))
    img[below] = grass[below]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _bilinear(tile: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Sample a wrapping tile of values at real coordinates (value noise)."""
    u, v = np.broadcast_arrays(u, v)
    h, w = tile.shape
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = u - u0, v - v0
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)  # smoothstep: no creases
    x0, y0 = u0.astype(np.int64) % w, v0.astype(np.int64) % h
    x1, y1 = (x0 + 1) % w, (y0 + 1) % h
    top = tile[y0, x0] * (1 - fu) + tile[y0, x1] * fu
    bottom = tile[y1, x0] * (1 - fu) + tile[y1, x1] * fu
    return top * (1 - fv) + bottom * fv


def draw_tufts(pygame, scene, seed: int) -> None:
    """Blades of grass, longer nearer the viewer, from the seed stream."""
    from assetvae.plugin_api import rng

    keys = [f"forest/tuft/{i}" for i in range(TUFTS)]
    u = [rng.uniform_batch(seed, keys, rng.STREAM_CHOICE, index) for index in range(4)]
    order = np.argsort(u[1], kind="stable")
    for i in order:
        depth = u[1][i] ** 1.3
        x, y = u[0][i] * WIDTH, HORIZON + 8 + depth * (HEIGHT - HORIZON - 4)
        length = 2 + 9 * depth
        shade = 0.75 + 0.4 * u[2][i]
        colour = tuple(int(min(255, c * shade)) for c in (70, 128, 50))
        for lean in (-0.5, 0.1, 0.6):
            tip = (x + lean * length * (0.6 + 0.5 * u[3][i]), y - length)
            pygame.draw.line(scene, colour, (x, y), tip, 1 if depth < 0.6 else 2)


def opaque_bottom(sprites: np.ndarray) -> np.ndarray:
    """Index of the lowest row with visible pixels in each sprite (its feet)."""
    rows = (sprites[..., 3] > 32).any(axis=2)  # [N, H]
    h = sprites.shape[1]
    last = h - 1 - np.argmax(rows[:, ::-1], axis=1)
    return np.where(rows.any(axis=1), last, h - 1)


# --- pygame ------------------------------------------------------------------------------
def to_surface(pygame, rgba: np.ndarray):
    h, w = rgba.shape[:2]
    data = np.ascontiguousarray(rgba).tobytes()
    return pygame.image.frombuffer(data, (w, h), "RGBA").convert_alpha()


def draw_loading(pygame, screen, font, done: int, total: int, label: str) -> None:
    screen.fill((24, 34, 30))
    title = font.render(label, True, (224, 236, 220))
    screen.blit(title, title.get_rect(center=(WIDTH // 2, HEIGHT // 2 - 36)))
    bar = pygame.Rect(0, 0, 480, 24)
    bar.center = (WIDTH // 2, HEIGHT // 2 + 4)
    pygame.draw.rect(screen, (56, 72, 60), bar, border_radius=6)
    fill = bar.copy()
    fill.width = int(bar.width * done / total) if total else bar.width
    if fill.width:
        pygame.draw.rect(screen, (120, 196, 96), fill, border_radius=6)
    pygame.draw.rect(screen, (190, 214, 180), bar, width=2, border_radius=6)
    count = font.render(f"{done} / {total}", True, (180, 196, 176))
    screen.blit(count, count.get_rect(center=(WIDTH // 2, HEIGHT // 2 + 40)))


def grow_forest(pygame, screen, font, gen, seed: int, count: int, spread: float, headless: bool):
    """Request every class's props in the background and draw a progress bar meanwhile."""
    world = layout(seed, count, gen.classes)
    progress: dict[str, int] = {}
    futures = {}
    for c, name in enumerate(gen.classes):
        idx = np.flatnonzero(world["cls"] == c)
        keys = [f"forest/{name}/{i}" for i in idx]
        progress[name] = 0
        # The callback runs in the worker thread: it only stores a number.
        futures[name] = (
            idx,
            gen.variants_async(
                name,
                keys,
                seed=seed,
                spread=spread,
                chunk=CHUNK,
                progress=lambda done, total, name=name: progress.__setitem__(name, done),
            ),
        )
    clock = pygame.time.Clock()
    while not all(f.done() for _, f in futures.values()):
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                raise SystemExit(0)
        draw_loading(
            pygame, screen, font, sum(progress.values()), count, f"Growing the forest (seed {seed})"
        )
        pygame.display.flip()
        clock.tick(60)
    if not headless:  # let the finished bar show for a moment
        draw_loading(pygame, screen, font, count, count, f"Growing the forest (seed {seed})")
        pygame.display.flip()
        time.sleep(0.15)
    sprites = np.zeros((count, gen.image_size, gen.image_size, 4), np.uint8)
    for idx, future in futures.values():
        sprites[idx] = future.result()
    return world, sprites


def compose(pygame, gen, seed: int, world, sprites: np.ndarray):
    """The finished frame as a pygame Surface."""
    scene = pygame.Surface((WIDTH, HEIGHT))
    scene.blit(pygame.image.frombuffer(background(seed).tobytes(), (WIDTH, HEIGHT), "RGB"), (0, 0))
    draw_tufts(pygame, scene, seed)
    size = gen.image_size
    feet = opaque_bottom(sprites) if len(sprites) else np.zeros(0, np.int64)
    ground_y = HORIZON + 6 + world["depth"] * (HEIGHT + 30 - HORIZON)
    # On-screen height of a full-size prop: ~40 px at the horizon to ~170 px at the bottom edge.
    kind = np.array([PROPS.get(c, DEFAULT_PROP)[0] for c in gen.classes])[world["cls"]]
    height = (40 + 130 * world["depth"]) * world["size"] * kind
    for i in np.argsort(ground_y, kind="stable"):  # back to front
        rgba = sprites[i].copy()
        fog = float((1 - world["depth"][i]) ** 3 * 0.45)
        rgba[..., :3] = np.rint(rgba[..., :3] * (1 - fog) + np.array(FOG) * fog).astype(np.uint8)
        if world["flip"][i]:
            rgba = rgba[:, ::-1]
        scale = height[i] / size
        w = max(1, round(size * scale))
        img = pygame.transform.smoothscale(to_surface(pygame, rgba), (w, w))
        foot = (feet[i] + 1) * scale
        x, y = float(world["x"][i]), float(ground_y[i])
        # A soft shadow under the prop's feet.
        sw, sh = max(4, int(w * 0.55)), max(2, int(w * 0.12))
        shadow = pygame.Surface((sw, sh), pygame.SRCALPHA)
        pygame.draw.ellipse(shadow, (20, 40, 16, 90), shadow.get_rect())
        scene.blit(shadow, (int(x - sw / 2), int(y - sh / 2)))
        scene.blit(img, (int(round(x - w / 2)), int(round(y - foot))))
    return scene


def save_screenshot(pygame, surface, path: Path) -> None:
    from PIL import Image

    from assetvae.plugin_api.images import save_png

    tobytes = getattr(pygame.image, "tobytes", None) or pygame.image.tostring
    save_png(Image.frombytes("RGB", surface.get_size(), tobytes(surface, "RGB")), path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    headless = args.screenshot is not None
    if headless:  # before pygame is imported: no window, no sound device
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from assetvae.plugin_api import AssetVAEError, Generator

    if args.count < 0:
        print("error: --count must be >= 0", file=sys.stderr)
        return 2
    try:
        gen = Generator.load(args.bundle)
    except AssetVAEError as e:
        hint = "; run `make demo` first or pass --bundle" if not args.bundle.exists() else ""
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2

    with gen:  # closes the Generator (its background thread, its sessions) however the game ends
        pygame.display.init()  # only what the scene uses: no audio device is opened
        pygame.font.init()
        try:
            screen = pygame.display.set_mode((WIDTH, HEIGHT))
            font = pygame.font.Font(None, 28)
            return run(pygame, screen, font, gen, args, args.seed, headless)
        finally:
            pygame.quit()


def run(pygame, screen, font, gen, args: argparse.Namespace, seed: int, headless: bool) -> int:
    """The game loop: grow the forest, show it; R re-seeds, Esc quits."""
    from assetvae.plugin_api import AssetVAEError

    while True:
        pygame.display.set_caption(f"assetvae forest - seed {seed}")
        try:
            world, sprites = grow_forest(
                pygame, screen, font, gen, seed, args.count, args.spread, headless
            )
        except AssetVAEError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        scene = compose(pygame, gen, seed, world, sprites)
        hud = font.render(
            f"seed {seed}  -  {args.count} props  -  {len(gen.classes)} classes",
            True,
            (255, 255, 255),
        )
        scene.blit(hud, (12, 10))
        if headless:
            save_screenshot(pygame, scene, args.screenshot)
            print(f"wrote {args.screenshot}")
            return 0
        screen.blit(scene, (0, 0))
        pygame.display.flip()
        reseed = False
        while not reseed:
            event = pygame.event.wait()
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE
            ):
                return 0
            if event.type == pygame.KEYDOWN and event.key == pygame.K_r:
                seed, reseed = (seed + 1) % 2**64, True
            if event.type == pygame.VIDEOEXPOSE:
                screen.blit(scene, (0, 0))
                pygame.display.flip()


if __name__ == "__main__":
    sys.exit(main())
