"""A procedural, deterministic pixel-art demo set: 16 x 16 game items (nothing is downloaded).

Eight classes of inventory items -- sword, axe, potion, gem, shield, key, mushroom, book --
drawn pixel by pixel on the native 16 x 16 grid, the grid of classic RPG and Minecraft item
icons: big enough for a recognisable silhouette with a one-pixel outline and a three-step
shading ramp, small enough that every pixel is a decision, which is what pixel artists
draw and what the native-grid lever of issue 14 is about. Each sprite:

- has hard alpha (0 or 255 only) and no colour under transparent pixels;
- uses a small palette: a dark outline, then ramps of two to four shades per material
  (shadows shift towards blue, highlights towards yellow, as pixel artists do), at most 8
  colours in all;
- is lit from the top left;
- varies in shape (blade lengths and guards, bottle and cut shapes, shield outlines, key bows
  and bits, cap shapes) and in colour (several palettes per class: potions in seven liquid
  colours, gems in eight stones, swords in six metals, and so on).

Larger ``size`` (a multiple of 16) gives the same sprites upscaled by nearest neighbour, as
artists often export them.

Reproducibility: item ``i`` of class ``c`` for seed ``s`` is drawn from its own
``random.Random`` seeded by SHA-256 of ``"pixel/{s}/{c}/{i}"``: it depends neither on
``per_class`` nor on the other classes, the process or the host.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
from collections.abc import Callable

import numpy as np
from PIL import Image

__all__ = ["NATIVE_SIZE", "PIXEL_CLASSES", "draw_item", "pixel_images"]

PIXEL_CLASSES: tuple[str, ...] = (
    "sword",
    "axe",
    "potion",
    "gem",
    "shield",
    "key",
    "mushroom",
    "book",
)
NATIVE_SIZE = 16
MAX_SIZE = 512
MAX_COLOURS = 8  # per sprite, outline included

N = NATIVE_SIZE
RGB = tuple[int, int, int]

# --------------------------------------------------------------------------- colour


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


def _towards(h: float, target: float, amount: float) -> float:
    """Move hue h (turns) towards target by amount along the shorter way round."""
    d = (target - h + 0.5) % 1.0 - 0.5
    return h + max(-amount, min(amount, d))


class Ramp:
    """A material's shades, from HSV: dark, base, light and a near-white shine."""

    def __init__(self, h: float, s: float, v: float, shift: float = 0.03) -> None:
        self.h, self.s, self.v = h % 1.0, s, v
        self.dark = _hsv(_towards(h, 0.68, shift), s * 1.1 + 0.05, v * 0.62)
        self.base = _hsv(h, s, v)
        self.light = _hsv(_towards(h, 0.15, shift), s * 0.8, v * 1.22 + 0.08)
        self.shine = _hsv(_towards(h, 0.15, shift), s * 0.3, 1.0)
        self.outline = _hsv(_towards(h, 0.7, 2 * shift), min(s * 0.8 + 0.3, 0.85), 0.13 + 0.1 * v)


# Materials (h, s, v) pixel artists reach for. Metals are low in saturation; gems are not.
METALS: dict[str, tuple[float, float, float]] = {
    "steel": (0.6, 0.1, 0.78),
    "iron": (0.62, 0.14, 0.52),
    "gold": (0.13, 0.75, 0.92),
    "bronze": (0.07, 0.65, 0.72),
    "crystal": (0.52, 0.45, 0.95),
    "obsidian": (0.75, 0.35, 0.42),
    "ruby": (0.98, 0.75, 0.85),
    "jade": (0.38, 0.55, 0.7),
}
WOODS: dict[str, tuple[float, float, float]] = {
    "oak": (0.08, 0.6, 0.58),
    "walnut": (0.06, 0.6, 0.4),
    "pale": (0.1, 0.45, 0.78),
    "red": (0.01, 0.65, 0.6),
}
VIVID: dict[str, tuple[float, float, float]] = {
    "red": (0.99, 0.8, 0.85),
    "orange": (0.07, 0.85, 0.95),
    "yellow": (0.14, 0.8, 0.95),
    "green": (0.33, 0.7, 0.75),
    "teal": (0.47, 0.7, 0.72),
    "blue": (0.6, 0.75, 0.9),
    "purple": (0.77, 0.6, 0.8),
    "pink": (0.9, 0.5, 0.95),
}


def _ramp(table: dict, name: str, rng: random.Random, jitter: float = 0.015) -> Ramp:
    h, s, v = table[name]
    return Ramp(
        h + rng.uniform(-jitter, jitter), s * rng.uniform(0.92, 1.08), v * rng.uniform(0.94, 1.04)
    )


# --------------------------------------------------------------------------- the grid


class Sprite:
    """A 16 x 16 grid of palette indices; 0 is transparent. Shapes are boolean masks."""

    def __init__(self) -> None:
        self.px = np.zeros((N, N), np.int16)
        self.colours: list[RGB] = []
        self.y, self.x = np.mgrid[0:N, 0:N]

    def index(self, rgb: RGB) -> int:
        if rgb not in self.colours:
            self.colours.append(rgb)
        return self.colours.index(rgb) + 1

    def fill(self, mask: np.ndarray, rgb: RGB) -> None:
        self.px[mask] = self.index(rgb)

    def put(self, x: int, y: int, rgb: RGB) -> None:
        if 0 <= x < N and 0 <= y < N:
            self.px[y, x] = self.index(rgb)

    def opaque(self) -> np.ndarray:
        return self.px > 0

    # shapes ---------------------------------------------------------------

    def rect(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """Pixels with x0 <= x <= x1 and y0 <= y <= y1 (inclusive)."""
        return (self.x >= x0) & (self.x <= x1) & (self.y >= y0) & (self.y <= y1)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        """Pixel centres inside the ellipse (centre in pixel units: 8.0 is a pixel edge)."""
        return ((self.x + 0.5 - cx) / rx) ** 2 + ((self.y + 0.5 - cy) / ry) ** 2 <= 1.0

    def poly(self, pts: list[tuple[float, float]]) -> np.ndarray:
        """Pixel centres inside a polygon (even-odd rule)."""
        px, py = self.x + 0.5, self.y + 0.5
        inside = np.zeros((N, N), bool)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            if y0 == y1:
                continue
            cross = ((y0 > py) != (y1 > py)) & (px < (x1 - x0) * (py - y0) / (y1 - y0) + x0)
            inside ^= cross
        return inside

    # shading -------------------------------------------------------------

    def shade_edges(
        self, mask: np.ndarray, ramp: Ramp, light: bool = True, dark: bool = True
    ) -> None:
        """Fill mask with ramp.base; pixels whose top or left neighbour is outside the mask
        get ramp.light, those whose bottom or right neighbour is outside get ramp.dark."""
        self.fill(mask, ramp.base)
        up, left, down, right = _shifted(mask)
        lit = mask & (~up | ~left)
        shadow = mask & (~down | ~right)
        if light:
            self.fill(lit & ~shadow, ramp.light)
        if dark:
            self.fill(shadow & ~lit, ramp.dark)

    def shade_round(
        self, mask: np.ndarray, ramp: Ramp, cx: float, cy: float, r: float, shine: bool = True
    ) -> None:
        """Spherical shading: light towards the top left of (cx, cy), dark at bottom right."""
        lx, ly = cx - 0.45 * r, cy - 0.45 * r
        d = np.hypot(self.x + 0.5 - lx, self.y + 0.5 - ly) / max(r, 1e-6)
        self.fill(mask, ramp.base)
        self.fill(mask & (d < 0.55), ramp.light)
        self.fill(mask & (d > 1.3), ramp.dark)
        if shine:
            self.put(int(lx), int(ly), ramp.shine)

    def outline(self, rgb: RGB) -> None:
        """A one-pixel outline outside the shape, on the four-neighbour ring."""
        solid = self.opaque()
        self.fill(~solid & _grow(solid), rgb)

    def image(self) -> np.ndarray:
        """RGBA [16, 16, 4]; if a drawer used more than MAX_COLOURS, the least used colour is
        merged into its nearest until the palette fits (a safety net: the drawers are
        designed to stay within it)."""
        pal = np.zeros((len(self.colours) + 1, 4), np.uint8)
        for i, c in enumerate(self.colours):
            pal[i + 1] = (*c, 255)
        px = self.px.copy()
        while True:
            used, counts = np.unique(px[px > 0], return_counts=True)
            if len(used) <= MAX_COLOURS:
                return pal[px]
            rare = used[np.argmin(counts)]
            others = used[used != rare]
            d = np.abs(pal[others, :3].astype(int) - pal[rare, :3].astype(int)).sum(1)
            px[px == rare] = others[np.argmin(d)]


def _shifted(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each pixel: is its up, left, down, right neighbour in mask (outside = False)."""
    p = np.pad(mask, 1)
    return p[:-2, 1:-1], p[1:-1, :-2], p[2:, 1:-1], p[1:-1, 2:]


def _grow(mask: np.ndarray) -> np.ndarray:
    up, left, down, right = _shifted(mask)
    return mask | up | left | down | right


# --------------------------------------------------------------------------- the classes


def _sword(s: Sprite, rng: random.Random) -> Ramp:
    blade = _ramp(
        METALS,
        rng.choices(
            ("steel", "iron", "gold", "crystal", "obsidian", "ruby", "jade"),
            weights=(6, 2, 2, 2, 1, 1, 1),
        )[0],
        rng,
    )
    guard = _ramp(METALS, rng.choice(("gold", "gold", "steel", "bronze", "iron")), rng)
    grip = _ramp(
        WOODS
        | {
            "leather": (0.05, 0.55, 0.45),
            "cloth": VIVID[rng.choice(("red", "blue", "purple", "green"))],
        },
        rng.choice(("oak", "walnut", "leather", "cloth")),
        rng,
    )
    broad = rng.random() < 0.5
    glen = rng.randint(2, 3)  # grip pixels
    big_pommel = rng.random() < 0.3
    # the pommel near the bottom-left corner; everything stays inside rows and columns 1-14
    px, py = (2, 13) if big_pommel else (1 + (e := rng.randint(0, 1)), 14 - e)
    gx, gy = px + glen + 1, py - glen - 1  # the guard's centre
    length = 14 - gx - rng.randint(0, 2)  # blade pixels along the diagonal, up to the tip
    # blade: from just above the guard up to the tip, towards the top right
    for k in range(1, length + 1):
        x, y = gx + k, gy - k
        last = k == length
        s.put(x, y, blade.light)
        if not last:
            s.put(x + 1, y, blade.base)
            if broad:
                s.put(x, y - 1, blade.light)
                s.put(x + 1, y + 1, blade.dark)
    if rng.random() < 0.5:  # a fuller (groove) down the middle of a broad blade
        for k in range(2, length - 1):
            if broad:
                s.put(gx + k + 1, gy - k, blade.dark)
    # guard: across the blade (the other diagonal), maybe curved towards the tip
    half = rng.randint(2, 3)
    curl = rng.random() < 0.4
    for j in range(-half, half + 1):
        x, y = gx + j, gy + j
        if curl and abs(j) == half:
            x, y = (x + 1, y) if j < 0 else (x, y - 1)
        s.put(x, y, guard.light if j < 0 else guard.base)
    # grip and pommel, down to the bottom left
    for k in range(1, glen + 1):
        s.put(gx - k, gy + k, grip.base)
    if rng.random() < 0.6:
        s.put(px, py, guard.light)
        if big_pommel:
            s.put(px - 1, py, guard.base)
            s.put(px, py + 1, guard.base)
    else:  # a gem in the pommel
        s.put(px, py, _ramp(VIVID, rng.choice(list(VIVID)), rng).base)
    return blade


def _axe(s: Sprite, rng: random.Random) -> Ramp:
    head = _ramp(
        METALS, rng.choice(("steel", "steel", "iron", "gold", "bronze", "obsidian", "crystal")), rng
    )
    wood = _ramp(WOODS, rng.choice(list(WOODS)), rng)
    double = rng.random() < 0.35
    side = rng.choice((-1, 1))
    hx = 7 + rng.choice((0, 1)) if double else (4 if side > 0 else 11)
    top = rng.randint(1, 2)
    s.shade_edges(s.rect(hx, top, hx, 14 - rng.randint(0, 1)), wood, light=False)
    if rng.random() < 0.5:  # a leather wrap near the end
        y0 = rng.randint(10, 11)
        s.fill(s.rect(hx, y0, hx, y0 + 1), wood.light)
    mid = 5 + rng.randint(0, 1)  # the head's middle row
    bearded = rng.random() < 0.4  # the blade hangs down: a straight top, a long lower point
    half = rng.uniform(3.0, 4.4)  # half the cutting edge's height
    reach = rng.randint(5, 6) - (1 if double else 0)
    neck = rng.choice((1, 1, 2))  # rows above and below the middle where it meets the handle
    for sd in (-1, 1) if double else (side,):
        for c in range(1, reach + 1):
            t = (c / reach) ** 1.6
            up = neck + ((half - 1.5) * 0.35 if bearded else half - neck) * t
            down = neck + (half * 1.5 - neck if bearded else half - neck) * t
            if c == reach:  # round the edge's corners off
                up, down = up - 0.7, down - 0.7
            x = hx + sd * c
            y0, y1 = int(round(mid - up)), int(round(mid + down))
            for y in range(y0, y1 + 1):
                shade = head.light if c == reach else (head.dark if y == y1 else head.base)
                if y == y0 and c < reach:
                    shade = head.light
                s.put(x, y, shade)
    s.put(hx, top, wood.dark)
    return head


def _potion(s: Sprite, rng: random.Random) -> Ramp:
    liquid = _ramp(
        VIVID,
        rng.choice(("red", "blue", "green", "purple", "yellow", "orange", "pink", "teal")),
        rng,
    )
    glass = Ramp(0.55, 0.12, 0.86)
    shape = rng.choice(("round", "round", "tall", "flask", "vial"))
    cx = 8.0 + rng.choice((0.0, 0.0, -0.5, 0.5))
    if shape == "round":
        r = rng.uniform(4.4, 5.3)
        cy = 15.0 - r - 0.3
        body = s.ellipse(cx, cy, r, r)
        neck_w, body_top = rng.choice((2, 2, 4)), cy - r
    elif shape == "tall":
        hw, ht = rng.randint(3, 4), rng.randint(7, 9)
        body = s.rect(int(cx) - hw, 15 - ht, int(cx) + hw - 1, 14)
        corners = s.rect(int(cx) - hw, 15 - ht, int(cx) + hw - 1, 15 - ht) & (
            (s.x == int(cx) - hw) | (s.x == int(cx) + hw - 1)
        )
        body &= ~corners
        neck_w, body_top = rng.choice((2, 4)), 15 - ht
        cy, r = 15 - ht / 2, ht / 2
    elif shape == "flask":  # conical, wide at the bottom
        base, ht = rng.uniform(5.5, 7.0), rng.randint(8, 10)
        body = s.poly(
            [(cx - 1.5, 15.0 - ht), (cx + 1.5, 15.0 - ht), (cx + base, 15.0), (cx - base, 15.0)]
        )
        neck_w, body_top = 2, 15 - ht
        cy, r = 15 - ht / 3, base * 0.8
    else:  # vial: narrow and tall
        hw = 2
        body = s.rect(int(cx) - hw, 5, int(cx) + hw - 1, 14)
        body &= ~(s.rect(0, 14, 15, 14) & ((s.x == int(cx) - hw) | (s.x == int(cx) + hw - 1)))
        neck_w, body_top = 2, 5
        cy, r = 10, 3
    level = body_top + (15 - body_top) * rng.uniform(0.25, 0.55)
    s.fill(body, glass.base)
    fluid = body & (s.y + 0.5 >= level)
    s.shade_round(fluid, liquid, cx, max(cy, level + 1), r, shine=False)
    s.fill(fluid & ~_edge(body) & (s.y + 0.5 < level + 1), liquid.light)  # the surface
    # neck and stopper
    nx0 = int(round(cx - neck_w / 2))
    neck_top = int(body_top) - min(rng.randint(1, 2), int(body_top) - 3)
    neck = s.rect(nx0, neck_top, nx0 + neck_w - 1, int(body_top))
    s.fill(neck & ~body, glass.base)
    stopper = _ramp(
        WOODS | {"wax": VIVID["red"], "metal": METALS["gold"]},
        rng.choice(("oak", "oak", "pale", "wax", "metal")),
        rng,
    )
    ck = s.rect(nx0 - (neck_w == 2), neck_top - 2, nx0 + neck_w - 1 + (neck_w == 2), neck_top - 1)
    s.shade_edges(ck, stopper, dark=False)
    # a highlight on the glass, top left of the body
    hx, hy = int(cx - r * 0.55), int(cy - r * 0.5)
    if body[hy, hx]:
        s.put(hx, hy, glass.shine)
        if body[hy + 1, hx]:
            s.put(hx, hy + 1, glass.shine)
    return liquid


def _edge(mask: np.ndarray) -> np.ndarray:
    up, left, down, right = _shifted(mask)
    return mask & ~(up & left & down & right)


def _gem(s: Sprite, rng: random.Random) -> Ramp:
    stone = _ramp(
        VIVID | {"diamond": (0.53, 0.2, 0.98)},
        rng.choice(
            ("red", "blue", "green", "purple", "yellow", "teal", "pink", "diamond", "orange")
        ),
        rng,
        jitter=0.02,
    )
    cut = rng.choice(("round", "square", "diamond", "trillion", "oval", "pear"))
    cx, cy = 8.0, 8.0 + rng.choice((0.0, 0.5))
    size = rng.uniform(5.0, 6.8)
    if cut == "round":
        r = size
        k = r * 0.42
        mask = s.poly(
            [
                (cx - k, cy - r),
                (cx + k, cy - r),
                (cx + r, cy - k),
                (cx + r, cy + k),
                (cx + k, cy + r),
                (cx - k, cy + r),
                (cx - r, cy + k),
                (cx - r, cy - k),
            ]
        )
    elif cut == "square":
        w, h = size, size * rng.uniform(0.7, 1.0)
        c = rng.uniform(1.5, 2.5)
        mask = s.poly(
            [
                (cx - w + c, cy - h),
                (cx + w - c, cy - h),
                (cx + w, cy - h + c),
                (cx + w, cy + h - c),
                (cx + w - c, cy + h),
                (cx - w + c, cy + h),
                (cx - w, cy + h - c),
                (cx - w, cy - h + c),
            ]
        )
    elif cut == "diamond":
        w = size * rng.uniform(0.75, 1.0)
        mask = s.poly([(cx, cy - size - 0.5), (cx + w, cy), (cx, cy + size + 0.5), (cx - w, cy)])
    elif cut == "trillion":
        mask = s.poly(
            [
                (cx - size - 0.5, cy - size * 0.6),
                (cx + size + 0.5, cy - size * 0.6),
                (cx, cy + size + 0.3),
            ]
        )
    elif cut == "oval":
        mask = s.ellipse(cx, cy, size * 0.72, size)
    else:  # pear: round below, pointed above
        mask = s.ellipse(cx, cy + 1.5, size * 0.75, size * 0.7) | s.poly(
            [(cx, cy - size - 0.5), (cx + size * 0.7, cy + 1.0), (cx - size * 0.7, cy + 1.0)]
        )
    # facets: a ring of crown facets (lit top left, dark bottom right) around a table
    u = (s.x + 0.5 - cx) + (s.y + 0.5 - cy)  # distance along the light direction
    ring = _edge(mask)
    table = mask & ~_grow(~mask) & ~_grow(_grow(~mask))  # two pixels in from the outline
    s.fill(mask, stone.base)
    s.fill(mask & ~table & (u > 0.5), stone.dark)
    s.fill(ring & (u < -0.5), stone.light)
    s.fill(table & (u < size * 0.15), stone.light)
    ys, xs = np.nonzero(table if table.any() else mask)
    first = np.argmin(xs + ys)
    s.put(int(xs[first]), int(ys[first]), stone.shine)
    if rng.random() < 0.6:  # a glint on the crown ring
        ys, xs = np.nonzero(ring & (u < -0.5))
        if len(xs):
            j = np.argmin(np.abs(xs - ys))
            s.put(int(xs[j]), int(ys[j]), stone.shine)
    return stone


def _shield(s: Sprite, rng: random.Random) -> Ramp:
    field = _ramp(
        VIVID, rng.choice(("red", "blue", "green", "yellow", "purple", "teal", "orange")), rng
    )
    rim = _ramp(METALS | WOODS, rng.choice(("steel", "gold", "iron", "bronze", "oak")), rng)
    shape = rng.choice(("heater", "round", "kite", "tower"))
    cx = 8.0
    if shape == "heater":
        top, mid = rng.randint(1, 2), rng.uniform(7.5, 9.5)
        w = rng.uniform(5.8, 6.8)
        mask = s.poly(
            [
                (cx - w, top),
                (cx + w, top),
                (cx + w, mid),
                (cx + w * 0.6, 12.5),
                (cx, 15.0),
                (cx - w * 0.6, 12.5),
                (cx - w, mid),
            ]
        )
    elif shape == "round":
        r = rng.uniform(6.3, 7.0)
        mask = s.ellipse(cx, 8.0, r, r)
    elif shape == "kite":
        w = rng.uniform(4.8, 5.8)
        mask = s.poly(
            [
                (cx - w, 2.0),
                (cx - w + 1.5, 0.6),
                (cx + w - 1.5, 0.6),
                (cx + w, 2.0),
                (cx + w * 0.9, 7.0),
                (cx, 15.4),
                (cx - w * 0.9, 7.0),
            ]
        )
    else:  # tower: tall rectangle, rounded below
        w = rng.uniform(4.8, 5.8)
        mask = s.rect(int(cx - w), 1, int(cx + w) - 1, 12) | s.ellipse(cx, 12.0, w, 3.0)
    border = _edge(mask)
    inner = mask & ~border
    s.shade_edges(inner, field)
    emblem = rng.choice(("cross", "pale", "fess", "boss", "chevron", "bend", "plain"))
    second = _ramp(
        VIVID | METALS,
        rng.choice(("yellow", "gold", "steel", "red", "blue", "pink"))
        if field.h not in (VIVID["yellow"][0],)
        else "red",
        rng,
    )
    if second.base == field.base:
        second = _ramp(METALS, "steel", rng)
    ys, xs = np.nonzero(inner)
    my, mx = (ys.min() + ys.max()) // 2, int(cx) - (1 if rng.random() < 0.5 else 0)
    if emblem == "cross":
        s.fill(
            inner
            & ((s.x == mx) | (s.x == mx + 1) | (s.y == my) | (s.y == my - 1))
            & (np.abs(s.x - mx) < 4)
            & (np.abs(s.y - my) < 5),
            second.base,
        )
    elif emblem == "pale":
        s.fill(inner & (s.x >= 8), second.base)
    elif emblem == "fess":
        s.fill(inner & (np.abs(s.y - my) <= 1), second.base)
    elif emblem == "boss":
        s.fill(s.ellipse(cx, my + 0.5, 2.1, 2.1) & inner, second.base)
        s.put(int(cx) - 1, my - 1, second.light)
    elif emblem == "chevron":
        s.fill(inner & (np.abs((s.y - my - 2) + np.abs(s.x + 0.5 - cx)) <= 1), second.base)
    elif emblem == "bend":
        s.fill(inner & (np.abs((s.x - s.y) - (mx - my)) <= 1), second.base)
    s.fill(border, rim.base)
    up, left, down, right = _shifted(mask)
    s.fill(border & (~up | ~left) & (s.y < my), rim.light)
    return field


def _key(s: Sprite, rng: random.Random) -> Ramp:
    metal = _ramp(METALS, rng.choices(list(METALS), weights=(3, 2, 5, 3, 1, 1, 1, 1))[0], rng)
    bow = rng.choice(("ring", "ring", "square", "diamond", "clover"))
    flip = rng.random() < 0.5
    y = rng.randint(7, 9)  # the shaft's row
    bx = 4.0  # bow centre
    if bow == "ring":
        r = rng.uniform(2.8, 3.4)
        outer = s.ellipse(bx, y + 0.5, r, r)
        hole = s.ellipse(bx, y + 0.5, r - 1.6, r - 1.6)
    elif bow == "square":
        h = rng.randint(2, 3)
        outer = s.rect(1, y - h, 7, y + h)
        hole = s.rect(3, y - h + 2, 5, y + h - 2)
    elif bow == "diamond":
        r = rng.uniform(3.0, 3.4)
        outer = s.poly([(bx, y + 0.5 - r), (bx + r, y + 0.5), (bx, y + 0.5 + r), (bx - r, y + 0.5)])
        hole = s.rect(int(bx) - 1, y, int(bx), y + 1) & outer
    else:  # clover: three lobes
        outer = (
            s.ellipse(bx - 1.5, y + 0.5, 2.0, 2.0)
            | s.ellipse(bx + 0.5, y - 1.5, 2.0, 2.0)
            | s.ellipse(bx + 0.5, y + 2.5, 2.0, 2.0)
        )
        hole = s.rect(int(bx) - 1, y, int(bx) - 1, y) | s.rect(int(bx), y - 1, int(bx), y - 1)
    hole &= outer
    shaft_end = rng.randint(12, 14)
    thick = rng.random() < 0.45
    shaft = s.rect(int(bx) + 2, y, shaft_end, y + (1 if thick else 0))
    s.shade_edges((outer | shaft) & ~hole, metal)
    # the bit: teeth hanging below the shaft's end
    teeth = rng.choice(((2, 0, 2), (2, 1), (3, 2), (2, 3, 2), (3, 0, 2), (1, 2, 3), (2, 2)))
    below = y + (2 if thick else 1)  # the first row under the shaft
    for j, depth in enumerate(teeth):
        x = shaft_end - j
        for d in range(depth):
            s.put(x, below + d, metal.dark if d == depth - 1 else metal.base)
    if rng.random() < 0.35 and bow != "clover":  # a gem set in the bow
        gem = _ramp(VIVID, rng.choice(("red", "blue", "green", "purple")), rng)
        s.fill(hole, gem.base)
        ys, xs = np.nonzero(hole)
        s.put(int(xs.min()), int(ys.min()), gem.light)
    if flip:
        s.px = s.px[:, ::-1].copy()
    return metal


def _mushroom(s: Sprite, rng: random.Random) -> Ramp:
    kind = rng.choice(("red", "red", "brown", "purple", "blue", "yellow", "green"))
    cap = _ramp(
        {
            "red": VIVID["red"],
            "brown": (0.07, 0.6, 0.55),
            "purple": VIVID["purple"],
            "blue": VIVID["blue"],
            "yellow": (0.12, 0.75, 0.95),
            "green": (0.28, 0.6, 0.72),
        },
        kind,
        rng,
    )
    stem = Ramp(0.11, rng.uniform(0.12, 0.25), rng.uniform(0.85, 0.95))
    shape = rng.choice(("dome", "dome", "wide", "cone", "bell"))
    cx = 8.0 + rng.choice((-0.5, 0.0, 0.5))
    sw = rng.choice((1.5, 2.0, 2.5))
    ground = 14
    stem_top = rng.randint(8, 10)
    stem_mask = s.rect(int(cx - sw), stem_top, int(cx + sw - 0.01), ground)
    if rng.random() < 0.5:  # a bulb at the foot
        stem_mask |= s.rect(int(cx - sw) - 1, ground - 1, int(cx + sw - 0.01) + 1, ground)
    s.shade_edges(stem_mask, stem, light=False)
    if shape == "dome":
        r, h = rng.uniform(5.5, 6.8), rng.uniform(4.5, 6.0)
        base_y = stem_top + 1.0
        mask = s.ellipse(cx, base_y, r, h) & (s.y + 0.5 < base_y + 0.5)
    elif shape == "wide":
        r, h = rng.uniform(6.3, 7.2), rng.uniform(3.2, 4.2)
        base_y = stem_top + 1.0
        mask = s.ellipse(cx, base_y, r, h) & (s.y + 0.5 < base_y + 0.5)
    elif shape == "cone":
        r, h = rng.uniform(4.5, 6.0), rng.uniform(6.5, 8.0)
        base_y = stem_top + 1.0
        mask = s.poly([(cx, base_y - h), (cx + r, base_y), (cx - r, base_y)])
    else:  # bell: tall rounded with flared rim
        r, h = rng.uniform(4.0, 5.0), rng.uniform(6.0, 7.5)
        base_y = stem_top + 1.0
        mask = s.ellipse(cx, base_y - h * 0.45, r, h * 0.6) | s.rect(
            int(cx - r - 0.5), int(base_y) - 1, int(cx + r), int(base_y) - 1
        )
        mask &= s.y + 0.5 < base_y + 0.5
    s.shade_round(mask, cap, cx, base_y - h * 0.6, max(r, h) * 0.9, shine=False)
    s.fill(mask & (s.y == int(base_y) - 1), cap.dark)  # the cap's shadowed rim
    spots = {"red": (3, 5), "purple": (0, 3), "brown": (0, 0), "blue": (0, 3)}.get(kind, (0, 2))
    n = rng.randint(*spots)
    inner = mask & ~_edge(mask) & (s.y < int(base_y) - 1)
    ys, xs = np.nonzero(inner)
    for _ in range(n):
        if len(ys) == 0:
            break
        j = rng.randrange(len(ys))
        s.put(int(xs[j]), int(ys[j]), stem.shine)
    return cap


def _book(s: Sprite, rng: random.Random) -> Ramp:
    cover = _ramp(
        VIVID | {"brown": (0.06, 0.6, 0.5), "black": (0.7, 0.25, 0.35)},
        rng.choice(("red", "blue", "green", "purple", "brown", "teal", "black", "orange")),
        rng,
    )
    paper = Ramp(0.12, 0.15, 0.95)
    trim = _ramp(METALS, rng.choice(("gold", "gold", "steel", "bronze")), rng)
    w, h = rng.randint(9, 12), rng.randint(10, 12)
    x0 = (16 - w) // 2 + rng.choice((0, 0, -1))
    y0 = (13 - h) // 2 + 1  # the ribbon may hang to row 14
    thick = rng.randint(1, 2)  # the page block under the cover
    pages = s.rect(x0 + 1, y0 + h - thick, x0 + w, y0 + h)
    s.fill(pages, paper.base)
    s.fill(pages & (s.y == y0 + h) & (s.x % 2 == 0), paper.dark)
    body = s.rect(x0, y0, x0 + w - 1, y0 + h - thick)
    s.shade_edges(body, cover)
    spine = s.rect(x0, y0, x0 + 1, y0 + h - thick)
    s.fill(spine, cover.dark)
    emblem = rng.choice(("gem", "diamond", "cross", "bands", "corners", "title"))
    ex, ey = x0 + 1 + w // 2, y0 + (h - thick) // 2
    if emblem == "gem":
        gem = _ramp(VIVID, rng.choice(("red", "blue", "green", "yellow", "purple")), rng)
        s.fill(s.rect(ex - 1, ey - 1, ex, ey), gem.base)
        s.put(ex - 1, ey - 1, paper.base)
        s.fill(
            s.rect(ex - 2, ey - 2, ex + 1, ey + 1)
            & ~s.rect(ex - 1, ey - 1, ex, ey)
            & ~s.rect(ex - 2, ey - 2, ex - 2, ey - 2)
            & ~s.rect(ex + 1, ey + 1, ex + 1, ey + 1)
            & ~s.rect(ex - 2, ey + 1, ex - 2, ey + 1)
            & ~s.rect(ex + 1, ey - 2, ex + 1, ey - 2),
            trim.base,
        )
    elif emblem == "diamond":
        d = s.poly([(ex, ey - 2.5), (ex + 2.5, ey), (ex, ey + 2.5), (ex - 2.5, ey)])
        s.fill(d, trim.base)
        s.fill(d & ~_edge(d), trim.light)
    elif emblem == "cross":
        s.fill(
            (s.rect(ex - 1, ey - 3, ex - 1, ey + 2) | s.rect(ex - 3, ey - 1, ex + 1, ey - 1)),
            trim.base,
        )
    elif emblem == "bands":
        s.fill(body & ~spine & ((s.y == y0 + 2) | (s.y == y0 + h - thick - 2)), trim.base)
    elif emblem == "corners":
        for cx, cy in ((x0 + w - 1, y0), (x0 + w - 1, y0 + h - thick)):
            s.put(cx, cy, trim.base)
            s.put(cx - 1, cy, trim.dark)
            s.put(cx, cy + (1 if cy == y0 else -1), trim.dark)
    else:  # a title label
        s.fill(s.rect(ex - 2, ey - 2, ex + 1, ey - 1), paper.base)
        s.fill(s.rect(ex - 1, ey - 2, ex, ey - 2), paper.dark)
    if rng.random() < 0.5:  # a bookmark ribbon hanging out below
        rx = x0 + w - 3
        s.put(rx, y0 + h + 1, trim.base)
        s.fill(s.rect(rx, y0 + h - thick + 1, rx, y0 + h), trim.base)
    return cover


_DRAWERS: dict[str, Callable[[Sprite, random.Random], Ramp]] = {
    "sword": _sword,
    "axe": _axe,
    "potion": _potion,
    "gem": _gem,
    "shield": _shield,
    "key": _key,
    "mushroom": _mushroom,
    "book": _book,
}


# --------------------------------------------------------------------------- public API


def check_size(size: int) -> None:
    if (
        not isinstance(size, int)
        or isinstance(size, bool)
        or not NATIVE_SIZE <= size <= MAX_SIZE
        or size % NATIVE_SIZE
    ):
        raise ValueError(
            f"pixel-art size must be an integer from {NATIVE_SIZE} to {MAX_SIZE} "
            f"and a multiple of {NATIVE_SIZE} (the native grid, upscaled by "
            f"nearest neighbour), got {size!r}"
        )


def draw_item(cls: str, rng: random.Random, size: int = NATIVE_SIZE) -> Image.Image:
    """Draw one item of class ``cls``: an RGBA image ``size x size``, a pure function of the
    state of ``rng``; hard alpha, no colour under transparent pixels."""
    if cls not in _DRAWERS:
        raise ValueError(f"unknown pixel-art class {cls!r}; choose from {', '.join(PIXEL_CLASSES)}")
    check_size(size)
    s = Sprite()
    main = _DRAWERS[cls](s, rng)
    s.px[[0, -1], :] = 0  # the outline needs the frame's outer ring (drawers stay inside it)
    s.px[:, [0, -1]] = 0
    s.outline(main.outline)
    img = Image.fromarray(s.image(), "RGBA")
    if size != NATIVE_SIZE:
        img = img.resize((size, size), Image.Resampling.NEAREST)
    return img


def item_rng(seed: int, cls: str, i: int) -> random.Random:
    digest = hashlib.sha256(f"pixel/{seed}/{cls}/{i}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def pixel_images(
    per_class: int = 32, seed: int = 0, size: int = NATIVE_SIZE
) -> dict[str, list[Image.Image]]:
    """``per_class`` items for every class in :data:`PIXEL_CLASSES`, keyed by class name.

    Item ``i`` of a class depends only on (seed, class, i, size).
    """
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}")
    check_size(size)
    return {
        cls: [draw_item(cls, item_rng(seed, cls, i), size) for i in range(per_class)]
        for cls in PIXEL_CLASSES
    }


def contact_sheet(
    images: dict[str, list[Image.Image]], cols: int = 16, scale: int = 4
) -> Image.Image:  # pragma: no cover - a viewing aid
    """Rows of items per class, upscaled by nearest neighbour, on a mid-grey background."""
    first = next(iter(images.values()))[0]
    cell = first.size[0] * scale + 2 * scale
    sheet = Image.new(
        "RGBA", (cols * cell + scale, len(images) * cell + scale), (112, 112, 120, 255)
    )
    for r, imgs in enumerate(images.values()):
        for c, img in enumerate(imgs[:cols]):
            big = img.resize((img.size[0] * scale, img.size[1] * scale), Image.Resampling.NEAREST)
            sheet.alpha_composite(big, (scale + c * cell, scale + r * cell))
    return sheet


if __name__ == "__main__":  # pragma: no cover
    import sys

    dest = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pixel_sheet.png"
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    contact_sheet(pixel_images(per_class=16, seed=seed)).save(dest)
    print("wrote", dest)
