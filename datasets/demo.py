"""Procedural, deterministic demo sets (nothing is downloaded): plants, and pixel-art items.

Two styles: ``plants`` (this module: painted plant sprites, 64 px by default) and ``pixel``
(``demo_pixel.py``: 16 px pixel-art game items with small palettes and hard alpha).
``demo_images`` and ``write_demo_folder`` take ``style``. The rest of this docstring is about
the plants.

Eight classes of small game-prop plants are drawn with Pillow as RGBA sprites on a fully
transparent background. Each sprite is drawn on a supersampled canvas (about 4x), measured,
and then resampled once into the final ``size x size`` frame in premultiplied alpha (Pillow's
RGBA resize premultiplies), so edges are antialiased and the plant stands on the bottom of the
frame with a small margin, filling roughly 60-95 % of its height (bushes are lower and wider).

Reproducibility: image ``i`` of class ``c`` for seed ``s`` is drawn from its own
``random.Random`` seeded with an integer derived by SHA-256 from ``"{s}/{c}/{i}"``, so it
depends neither on ``per_class`` nor on the other classes, nor on the process or host.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import demo_pixel

__all__ = [
    "DEMO_CLASSES",
    "STYLES",
    "demo_images",
    "draw_plant",
    "style_classes",
    "write_demo_folder",
]

DEMO_CLASSES: tuple[str, ...] = (
    "pine",
    "broadleaf",
    "palm",
    "cactus",
    "flower",
    "bush",
    "mushroom",
    "fern",
)

# The mushrooms' cap colours, drawn with weights 3:2:2:2:1 (red is the most common, none rare).
MUSHROOM_KINDS: tuple[str, ...] = ("red", "brown", "purple", "blue", "tan")

MIN_SIZE = 16
MAX_SIZE = 512

STYLES: tuple[str, ...] = ("plants", "pixel")
DEFAULT_SIZES: dict[str, int] = {"plants": 64, "pixel": demo_pixel.NATIVE_SIZE}

_SUPERSAMPLE = 4.0
_RESAMPLE = Image.Resampling.BOX

Color = tuple[int, int, int, int]
Point = tuple[float, float]


# --------------------------------------------------------------------------- colour helpers


def _hsv(h: float, s: float, v: float) -> Color:
    """An opaque RGBA colour from HSV in [0, 1] (hue wraps, s and v are clamped)."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255), 255)


class _Palette:
    """A base colour in HSV with darker / lighter variants for simple shading."""

    def __init__(self, h: float, s: float, v: float) -> None:
        self.h, self.s, self.v = h, s, v

    def base(self) -> Color:
        return _hsv(self.h, self.s, self.v)

    def dark(self, f: float = 0.68) -> Color:
        return _hsv(self.h + 0.012, self.s * 1.08, self.v * f)

    def light(self, f: float = 1.28) -> Color:
        return _hsv(self.h - 0.012, self.s * 0.85, self.v * f + 0.04)

    def shifted(self, dh: float = 0.0, fs: float = 1.0, fv: float = 1.0) -> _Palette:
        return _Palette(self.h + dh, self.s * fs, self.v * fv)


# --------------------------------------------------------------------------- drawing canvas


class _Pen:
    """Draws in plant units on a supersampled canvas.

    The plant's base is at (0, 0), y grows downwards, and a typical plant is about one unit
    tall (its top near y = -1). ``lean`` shears the drawing around the base so the plant tilts.
    """

    def __init__(
        self, px_per_unit: float, extent: tuple[float, float, float, float], lean: float
    ) -> None:
        x0, y0, x1, y1 = extent
        self.k = px_per_unit
        self.x0, self.y0 = x0, y0
        self.lean = lean
        w = max(8, math.ceil((x1 - x0) * px_per_unit))
        h = max(8, math.ceil((y1 - y0) * px_per_unit))
        self.img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        self.d = ImageDraw.Draw(self.img)

    def pt(self, x: float, y: float) -> Point:
        x = x - y * self.lean
        return ((x - self.x0) * self.k, (y - self.y0) * self.k)

    def poly(self, pts: Sequence[Point], fill: Color) -> None:
        if len(pts) >= 3:
            self.d.polygon([self.pt(x, y) for x, y in pts], fill=fill)

    def oval(
        self, cx: float, cy: float, rx: float, ry: float, fill: Color, angle: float = 0.0
    ) -> None:
        """An ellipse; ``angle`` (radians) rotates it about its centre."""
        if angle == 0.0:
            px, py = self.pt(cx, cy)
            rxp, ryp = max(rx * self.k, 0.5), max(ry * self.k, 0.5)
            self.d.ellipse([px - rxp, py - ryp, px + rxp, py + ryp], fill=fill)
            return
        ca, sa = math.cos(angle), math.sin(angle)
        pts = []
        for j in range(20):
            t = 2.0 * math.pi * j / 20
            ex, ey = rx * math.cos(t), ry * math.sin(t)
            pts.append((cx + ex * ca - ey * sa, cy + ex * sa + ey * ca))
        self.poly(pts, fill)

    def ribbon(self, pts: Sequence[Point], widths: Sequence[float], fill: Color) -> None:
        """A strip along a polyline with the given half-width at each point."""
        n = len(pts)
        if n < 2:
            return
        left: list[Point] = []
        right: list[Point] = []
        for i in range(n):
            ax, ay = pts[max(i - 1, 0)]
            bx, by = pts[min(i + 1, n - 1)]
            dx, dy = bx - ax, by - ay
            norm = math.hypot(dx, dy) or 1.0
            nx, ny = -dy / norm, dx / norm
            w = widths[i]
            x, y = pts[i]
            left.append((x + nx * w, y + ny * w))
            right.append((x - nx * w, y - ny * w))
        self.poly(left + right[::-1], fill)

    def leaf(
        self,
        x: float,
        y: float,
        angle: float,
        length: float,
        width: float,
        fill: Color,
        bend: float = 0.0,
    ) -> None:
        """A pointed leaf from (x, y) in direction ``angle``; ``bend`` curves it sideways."""
        ca, sa = math.cos(angle), math.sin(angle)
        m = 7
        upper: list[Point] = []
        lower: list[Point] = []
        for j in range(m + 1):
            t = j / m
            hw = width * math.sin(math.pi * t) ** 0.8
            off = bend * length * t * t
            ax, ay = t * length, off
            for side, out in ((1.0, upper), (-1.0, lower)):
                lx, ly = ax, ay + side * hw
                out.append((x + lx * ca - ly * sa, y + lx * sa + ly * ca))
        self.poly(upper + lower[::-1], fill)


def _bezier(p0: Point, p1: Point, p2: Point, n: int) -> list[Point]:
    """n + 1 points on a quadratic Bezier curve."""
    out = []
    for j in range(n + 1):
        t = j / n
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        out.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
    return out


def _blobs(
    pen: _Pen,
    blobs: Sequence[tuple[float, float, float]],
    pal: _Palette,
    rng: random.Random,
    speckles: int = 0,
) -> None:
    """A lumpy mass of overlapping round blobs, lit from the upper left."""
    dark, base, light = pal.dark(0.62), pal.base(), pal.light(1.22)
    for x, y, r in blobs:
        pen.oval(x + 0.10 * r, y + 0.10 * r, r * 1.02, r * 1.02, dark)
    for x, y, r in blobs:
        pen.oval(x - 0.06 * r, y - 0.07 * r, r * 0.86, r * 0.86, base)
    for x, y, r in blobs:
        pen.oval(x - 0.32 * r, y - 0.34 * r, r * 0.38, r * 0.34, light)
    if speckles and blobs:
        shades = (pal.dark(0.78), pal.light(1.12), pal.dark(0.7))
        for _ in range(speckles):
            x, y, r = rng.choice(blobs)
            a, d = rng.uniform(0, 2 * math.pi), r * 0.75 * math.sqrt(rng.random())
            rr = r * rng.uniform(0.09, 0.16)
            pen.oval(
                x + d * math.cos(a),
                y + d * math.sin(a),
                rr,
                rr * 0.8,
                rng.choice(shades),
                angle=rng.uniform(0, math.pi),
            )


# --------------------------------------------------------------------------- the classes


def _pine(pen: _Pen, rng: random.Random) -> None:
    trunk_h = rng.uniform(0.12, 0.26)
    tw = rng.uniform(0.035, 0.065)
    bark = _Palette(rng.uniform(0.05, 0.09), rng.uniform(0.45, 0.7), rng.uniform(0.28, 0.42))
    top_t = -trunk_h - 0.12
    pen.poly([(-tw * 1.25, 0), (tw * 1.25, 0), (tw * 0.8, top_t), (-tw * 0.8, top_t)], bark.base())
    pen.poly([(tw * 0.25, 0), (tw * 1.25, 0), (tw * 0.8, top_t), (tw * 0.15, top_t)], bark.dark())

    pal = _Palette(rng.uniform(0.30, 0.43), rng.uniform(0.45, 0.8), rng.uniform(0.30, 0.52))
    n = rng.randint(3, 5)
    crown = 1.0 - trunk_h
    spacing = crown / (n + 1)
    width = rng.uniform(0.27, 0.45)
    snow = rng.random() < 0.12
    droop = rng.uniform(0.02, 0.06)
    for k in range(n):
        b = -trunk_h - spacing * k
        apex_y = b - 2.0 * spacing
        w = width * ((n + 1 - k) / (n + 1)) ** 0.85 * rng.uniform(0.93, 1.07)
        ax = rng.uniform(-0.01, 0.01)
        teeth = max(2, round(w / 0.09))
        bottom = []
        for j in range(teeth + 1):
            x = w - 2 * w * j / teeth
            y = b - (0.0 if j % 2 == 0 else droop * rng.uniform(0.6, 1.4))
            bottom.append((x, y + droop * 0.5 * (1 - (x / w) ** 2)))
        tier = [(ax, apex_y)] + bottom
        pen.poly(tier, pal.base())
        # darker right flank, highlight on the left edge
        pen.poly(
            [(ax, apex_y)] + [p for p in bottom if p[0] >= w * 0.12] + [(w * 0.12, b)],
            pal.dark(0.66),
        )
        pen.poly([(ax, apex_y), (-w, b), (-w * 0.72, b - 0.01)], pal.light(1.3))
        if snow:
            sy = apex_y + (b - apex_y) * 0.35
            sw = w * 0.35
            pen.poly(
                [
                    (ax, apex_y),
                    (sw, sy),
                    (sw * 0.3, sy - 0.02),
                    (0, sy + 0.01),
                    (-sw * 0.4, sy - 0.015),
                    (-sw, sy),
                ],
                (236, 242, 250, 255),
            )


def _broadleaf(pen: _Pen, rng: random.Random) -> None:
    trunk_h = rng.uniform(0.3, 0.48)
    tw = rng.uniform(0.035, 0.075)
    bark = _Palette(rng.uniform(0.05, 0.1), rng.uniform(0.35, 0.65), rng.uniform(0.25, 0.45))
    pen.poly(
        [
            (-tw * 1.7, 0),
            (tw * 1.7, 0),
            (tw, -0.08),
            (tw * 0.8, -trunk_h - 0.1),
            (-tw * 0.8, -trunk_h - 0.1),
            (-tw, -0.08),
        ],
        bark.base(),
    )
    pen.poly(
        [
            (tw * 0.2, 0),
            (tw * 1.7, 0),
            (tw, -0.08),
            (tw * 0.8, -trunk_h - 0.1),
            (tw * 0.1, -trunk_h - 0.1),
        ],
        bark.dark(),
    )
    for _ in range(rng.randint(1, 3)):
        sx = rng.choice((-1, 1))
        y0 = -trunk_h * rng.uniform(0.65, 0.95)
        end = (sx * rng.uniform(0.12, 0.25), -trunk_h - rng.uniform(0.05, 0.15))
        pen.ribbon(
            _bezier((0, y0), (sx * 0.05, y0 - 0.08), end, 6),
            [tw * 0.6 * (1 - j / 8) for j in range(7)],
            bark.base(),
        )

    crown_bottom = -trunk_h + rng.uniform(0.0, 0.1)
    ry = (1.0 + crown_bottom) / 2
    rx = ry * rng.uniform(0.8, 1.35)
    cy = -1.0 + ry
    cx = rng.uniform(-0.04, 0.04)
    if rng.random() < 0.18:
        pal = _Palette(rng.uniform(0.03, 0.12), rng.uniform(0.65, 0.9), rng.uniform(0.55, 0.8))
    else:
        pal = _Palette(rng.uniform(0.2, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.38, 0.65))
    rmin = min(rx, ry)
    blobs = [(cx, cy, rmin * rng.uniform(0.6, 0.72))]
    for _ in range(rng.randint(6, 10)):
        r = rmin * rng.uniform(0.3, 0.48)
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0.55, 1.0)
        blobs.append((cx + math.cos(a) * (rx - r) * d, cy + math.sin(a) * (ry - r) * d, r))
    blobs.sort(key=lambda b: b[1])
    _blobs(pen, blobs, pal, rng, speckles=rng.randint(10, 22))
    if rng.random() < 0.22:
        fruit = _Palette(rng.choice((0.0, 0.02, 0.08, 0.13)), 0.85, 0.85)
        for _ in range(rng.randint(4, 9)):
            x, y, r = rng.choice(blobs)
            a, d = rng.uniform(0, 2 * math.pi), r * 0.7 * math.sqrt(rng.random())
            fx, fy, fr = x + d * math.cos(a), y + d * math.sin(a), rmin * 0.07
            pen.oval(fx, fy, fr, fr, fruit.dark())
            pen.oval(fx - fr * 0.15, fy - fr * 0.15, fr * 0.8, fr * 0.8, fruit.base())
            pen.oval(fx - fr * 0.4, fy - fr * 0.4, fr * 0.25, fr * 0.25, (255, 250, 235, 255))


def _palm(pen: _Pen, rng: random.Random) -> None:
    frond_len = rng.uniform(0.32, 0.46)
    top_y = -(1.0 - frond_len * rng.uniform(0.45, 0.6))
    top = (rng.uniform(-0.28, 0.28), top_y)
    ctrl = (top[0] * rng.uniform(-0.4, 0.3) + rng.uniform(-0.08, 0.08), top_y * 0.5)
    trunk = _bezier((0.0, 0.0), ctrl, top, 14)
    w0 = rng.uniform(0.035, 0.055)
    w1 = w0 * rng.uniform(0.55, 0.75)
    bark = _Palette(rng.uniform(0.07, 0.11), rng.uniform(0.35, 0.6), rng.uniform(0.45, 0.65))
    widths = [w0 + (w1 - w0) * j / 14 for j in range(15)]
    pen.ribbon(trunk, widths, bark.dark(0.7))
    for j in range(14):
        seg = trunk[j : j + 2]
        ws = [widths[j] * 0.8, widths[j + 1] * 0.8]
        pen.ribbon(
            [(x - 0.2 * w, y) for (x, y), w in zip(seg, ws)],
            ws,
            bark.base() if j % 2 == 0 else bark.light(1.12),
        )

    pal = _Palette(rng.uniform(0.22, 0.36), rng.uniform(0.55, 0.85), rng.uniform(0.4, 0.65))
    n = rng.randint(6, 9)
    lo, hi = -math.pi - 0.45, 0.45
    angles = [lo + (hi - lo) * (j + rng.uniform(0.25, 0.75)) / n for j in range(n)]
    fronds = []
    for a in angles:
        L = frond_len * rng.uniform(0.8, 1.1)
        horiz = abs(math.cos(a))
        end = (
            top[0] + math.cos(a) * L,
            top[1] + math.sin(a) * L * 0.75 + L * horiz * rng.uniform(0.25, 0.45),
        )
        mid = (top[0] + math.cos(a) * L * 0.6, top[1] + math.sin(a) * L * 0.6 - L * 0.12)
        fronds.append((horiz, _bezier(top, mid, end, 16)))
    fronds.sort(key=lambda f: -f[0])  # drooping side fronds first, upright ones on top
    fw = rng.uniform(0.045, 0.07)
    for horiz, pts in fronds:
        shade = pal.shifted(fv=rng.uniform(0.85, 1.1) * (0.85 if horiz > 0.8 else 1.0))
        ws = [
            fw * math.sin(math.pi * (j / 16)) ** 0.6 * (1.0 if j % 2 else 0.55) for j in range(17)
        ]
        pen.ribbon(pts, ws, shade.dark(0.72))
        pen.ribbon([(x, y - 0.006) for x, y in pts], [w * 0.78 for w in ws], shade.base())
        pen.ribbon(pts, [fw * 0.09] * 17, shade.light(1.3))
    if rng.random() < 0.5:
        nut = _Palette(0.08, 0.6, 0.4)
        for _ in range(rng.randint(2, 4)):
            x = top[0] + rng.uniform(-0.05, 0.05)
            y = top[1] + rng.uniform(0.01, 0.05)
            pen.oval(x, y, 0.032, 0.032, nut.dark())
            pen.oval(x - 0.006, y - 0.006, 0.024, 0.024, nut.base())


def _cactus(pen: _Pen, rng: random.Random) -> None:
    cw = rng.uniform(0.075, 0.13)
    pal = _Palette(rng.uniform(0.27, 0.42), rng.uniform(0.4, 0.75), rng.uniform(0.42, 0.68))
    n_arms = rng.choices((0, 1, 2, 3), weights=(1, 3, 4, 1))[0]
    sides = [rng.choice((-1, 1))] if n_arms == 1 else [-1, 1, rng.choice((-1, 1))][:n_arms]
    used: dict[int, float] = {}
    arms = []
    for sx in sides:
        ay = -rng.uniform(0.25, 0.6)
        if sx in used and abs(used[sx] - ay) < 0.2:
            ay = used[sx] - 0.22
        used[sx] = ay
        aw = cw * rng.uniform(0.55, 0.78)
        out = cw + rng.uniform(0.06, 0.16)
        up = rng.uniform(0.12, 0.32)
        arms.append((sx, ay, aw, out, up))

    def body(dx: float, fw: float, fill: Color) -> None:
        top = -1.0 + cw
        pen.poly(
            [(-cw * fw + dx, 0), (cw * fw + dx, 0), (cw * fw + dx, top), (-cw * fw + dx, top)], fill
        )
        pen.oval(dx, top, cw * fw, cw, fill)
        for sx, ay, aw, out, up in arms:
            ex = sx * out
            pen.poly(
                [
                    (dx, ay - aw * fw),
                    (ex + dx, ay - aw * fw),
                    (ex + dx, ay + aw * fw),
                    (dx, ay + aw * fw),
                ],
                fill,
            )
            pen.oval(ex + dx, ay, aw * fw, aw * fw, fill)
            pen.poly(
                [
                    (ex - aw * fw + dx, ay),
                    (ex + aw * fw + dx, ay),
                    (ex + aw * fw + dx, ay - up),
                    (ex - aw * fw + dx, ay - up),
                ],
                fill,
            )
            pen.oval(ex + dx, ay - up, aw * fw, aw * 0.9, fill)

    body(0.0, 1.0, pal.dark(0.62))
    body(-0.22 * cw, 0.76, pal.base())
    body(-0.5 * cw, 0.16, pal.light(1.25))
    rib = pal.dark(0.75)
    for fx in (-0.45, 0.3):
        pen.ribbon([(cw * fx, -0.02), (cw * fx, -1.0 + cw * 0.8)], [cw * 0.06] * 2, rib)
    spine = _hsv(0.14, 0.25, 0.95)
    for _ in range(rng.randint(8, 16)):
        y = -rng.uniform(0.05, 0.92)
        x = cw * rng.choice((-0.7, -0.1, 0.55))
        pen.oval(x, y, 0.008, 0.008, spine)
    if rng.random() < 0.4:
        petal = _Palette(rng.choice((0.95, 0.0, 0.12, 0.85)), 0.7, 0.95)
        fy = -1.0
        for j in range(5):
            a = -math.pi / 2 + (j - 2) * 0.55
            pen.leaf(0, fy + 0.01, a, cw * 0.95, cw * 0.35, petal.base())
        pen.oval(0, fy + 0.005, cw * 0.25, cw * 0.2, _hsv(0.14, 0.8, 0.95))


def _flower(pen: _Pen, rng: random.Random) -> None:
    n = rng.choices((1, 2, 3), weights=(4, 3, 2))[0]
    hue = rng.choice((0.0, 0.04, 0.09, 0.14, 0.62, 0.75, 0.83, 0.92, -1.0))
    stem_pal = _Palette(rng.uniform(0.24, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.38, 0.6))
    heads = []
    for i in range(n):
        pr = rng.uniform(0.12, 0.17) * (1.0 if i == 0 else rng.uniform(0.75, 0.95))
        if i == 0:
            hx, hy = rng.uniform(-0.08, 0.08), -1.0 + pr
        else:
            hx = (0.22 + 0.1 * i) * (1 if i % 2 else -1) * rng.uniform(0.85, 1.15)
            hx *= rng.choice((1, -1)) if n == 2 else 1
            hy = -rng.uniform(0.5, 0.82)
        heads.append((hx, hy, pr))
    # stems and leaves, far heads first
    for hx, hy, _pr in sorted(heads, key=lambda h: h[1], reverse=True):
        bx = rng.uniform(-0.03, 0.03)
        stem = _bezier((bx, 0.0), (hx * 0.2 + rng.uniform(-0.1, 0.1), hy * 0.5), (hx, hy), 10)
        pen.ribbon(stem, [0.022 - 0.006 * j / 10 for j in range(11)], stem_pal.dark(0.8))
        for _ in range(rng.randint(1, 2)):
            j = rng.randint(2, 5)
            x, y = stem[j]
            sx = rng.choice((-1, 1))
            a = -math.pi / 2 + sx * rng.uniform(0.7, 1.2)
            L = rng.uniform(0.16, 0.26)
            pen.leaf(x, y, a, L, L * 0.3, stem_pal.base(), bend=0.25 * sx)
            pen.leaf(x, y, a, L * 0.9, L * 0.06, stem_pal.dark(0.7), bend=0.25 * sx)
    for hx, hy, pr in heads:
        if hue < 0:
            petal = _Palette(rng.uniform(0.1, 0.16), 0.06, 0.97)
        else:
            petal = _Palette(
                hue + rng.uniform(-0.025, 0.025), rng.uniform(0.55, 0.9), rng.uniform(0.75, 0.98)
            )
        k = rng.randint(5, 9)
        rot = rng.uniform(0, 2 * math.pi)
        pw = pr * rng.uniform(0.3, 0.5)
        for layer, col, f in (
            (0, petal.dark(0.7), 1.08),
            (1, petal.base(), 0.92),
            (2, petal.light(1.15), 0.45),
        ):
            for j in range(k):
                a = rot + 2 * math.pi * j / k
                d = pr * (0.55 if layer < 2 else 0.4)
                dx = -0.008 if layer else 0.0
                pen.oval(
                    hx + math.cos(a) * d + dx,
                    hy + math.sin(a) * d + dx,
                    pr * 0.55 * f,
                    pw * f,
                    col,
                    angle=a + 1e-6,
                )
        cr = pr * rng.uniform(0.28, 0.4)
        centre = _Palette(rng.choice((0.1, 0.13, 0.06)), 0.85, rng.uniform(0.5, 0.95))
        pen.oval(hx, hy, cr, cr, centre.dark(0.6))
        pen.oval(hx - cr * 0.12, hy - cr * 0.12, cr * 0.8, cr * 0.8, centre.base())
        pen.oval(hx - cr * 0.35, hy - cr * 0.35, cr * 0.28, cr * 0.28, centre.light(1.3))
    if rng.random() < 0.5:
        for _ in range(rng.randint(3, 5)):
            a = -math.pi / 2 + rng.uniform(-0.9, 0.9)
            pen.leaf(
                rng.uniform(-0.05, 0.05),
                0.0,
                a,
                rng.uniform(0.08, 0.16),
                0.015,
                stem_pal.shifted(fv=rng.uniform(0.8, 1.15)).base(),
            )


def _bush(pen: _Pen, rng: random.Random) -> None:
    half = rng.uniform(0.65, 1.0)
    if rng.random() < 0.15:
        pal = _Palette(rng.uniform(0.42, 0.48), rng.uniform(0.35, 0.6), rng.uniform(0.35, 0.55))
    else:
        pal = _Palette(rng.uniform(0.2, 0.38), rng.uniform(0.5, 0.85), rng.uniform(0.35, 0.62))
    blobs = []
    r_top = rng.uniform(0.32, 0.42)
    blobs.append((rng.uniform(-0.12, 0.12), -1.0 + r_top, r_top))
    # a bottom row of blobs that always overlap, so the bush is one connected mass
    m = max(3, math.ceil(2 * (half - 0.3) / 0.32) + 1)
    for j in range(m):
        r = rng.uniform(0.26, 0.34)
        x = (-half + 0.3) + 2 * (half - 0.3) * (j + rng.uniform(-0.12, 0.12)) / (m - 1)
        blobs.append((x, -r * 1.12, r))
    for _ in range(rng.randint(3, 6)):
        u = rng.uniform(-0.8, 0.8)
        r = rng.uniform(0.24, 0.34)
        hmax = math.sqrt(1 - u * u)
        y = -r * 1.12 - rng.uniform(0.15, max(0.15, hmax - 2 * r))
        blobs.append((u * (half - r), y, r))
    blobs.sort(key=lambda b: b[1])
    _blobs(pen, blobs, pal, rng, speckles=rng.randint(12, 24))
    if rng.random() < 0.55:
        berry = _Palette(rng.choice((0.0, 0.97, 0.62, 0.78, 0.08)), 0.8, rng.uniform(0.7, 0.9))
        for _ in range(rng.randint(6, 14)):
            x, y, r = rng.choice(blobs)
            a, d = rng.uniform(0, 2 * math.pi), r * 0.75 * math.sqrt(rng.random())
            bx, by, br = x + d * math.cos(a), min(y + d * math.sin(a), -0.06), 0.035
            pen.oval(bx, by, br, br, berry.dark())
            pen.oval(bx - 0.006, by - 0.006, br * 0.8, br * 0.8, berry.base())
            pen.oval(bx - 0.014, by - 0.014, br * 0.3, br * 0.3, (255, 255, 245, 255))


def _mushroom_one(
    pen: _Pen, rng: random.Random, ox: float, sc: float, kind: str, cap: _Palette
) -> None:
    cw = rng.uniform(0.3, 0.46) * sc
    ch = rng.uniform(0.26, 0.4) * sc
    sw = rng.uniform(0.08, 0.13) * sc
    top = -1.0 * sc
    base_y = top + ch
    stem = _Palette(rng.uniform(0.09, 0.12), rng.uniform(0.08, 0.22), rng.uniform(0.82, 0.95))
    bulge = 1.35 if kind == "red" else rng.uniform(1.1, 1.6)
    pen.poly(
        [
            (ox - sw * bulge, 0),
            (ox + sw * bulge, 0),
            (ox + sw, base_y + 0.02 * sc),
            (ox - sw, base_y + 0.02 * sc),
        ],
        stem.base(),
    )
    pen.oval(ox, -sw * 0.5, sw * bulge, sw * 0.5, stem.base())
    pen.poly(
        [
            (ox + sw * 0.3, 0),
            (ox + sw * bulge, 0),
            (ox + sw, base_y + 0.02 * sc),
            (ox + sw * 0.25, base_y + 0.02 * sc),
        ],
        stem.dark(0.8),
    )
    if kind == "red" and sc > 0.8:
        ry = base_y + (0 - base_y) * 0.3
        pen.oval(ox, ry, sw * 1.35, 0.025 * sc, stem.dark(0.85))
        pen.oval(ox, ry - 0.008, sw * 1.25, 0.018 * sc, stem.light(1.05))
    # gills under the cap
    gill = _Palette(0.09, 0.3, 0.62)
    pen.oval(ox, base_y + ch * 0.02, cw * 0.97, ch * 0.17, gill.dark(0.8))
    pen.oval(ox, base_y + ch * 0.04, cw * 0.75, ch * 0.1, gill.base())

    # cap: dark dome, lit dome shifted left, highlight
    def bbox(x0: float, x1: float) -> list[Point]:
        return [pen.pt(ox + x0, top), pen.pt(ox + x1, top + 2 * ch)]

    (x0, y0), (x1, y1) = bbox(-cw, cw)
    pen.d.pieslice([x0, y0, x1, y1], 180, 360, fill=cap.dark(0.62))
    (x0, y0), (x1, y1) = bbox(-cw, cw * 0.7)
    y0 += 0.06 * ch * pen.k
    pen.d.pieslice([x0, y0, x1, y1], 180, 360, fill=cap.base())
    pen.oval(ox - cw * 0.42, top + ch * 0.38, cw * 0.22, ch * 0.16, cap.light(1.3), angle=-0.5)
    if kind == "red":
        for _ in range(rng.randint(4, 9)):
            r = rng.uniform(0.035, 0.06) * sc
            for _try in range(12):
                u, v = rng.uniform(-0.8, 0.8), rng.uniform(0.12, 0.85)
                if (abs(u) + r / cw) ** 2 + (v + 0.8 * r / ch) ** 2 < 0.92:
                    break
            else:
                continue
            pen.oval(
                ox + u * cw, base_y - v * ch, r * (1 - 0.4 * abs(u)), r * 0.8, (248, 246, 238, 255)
            )


def _mushroom(pen: _Pen, rng: random.Random) -> None:
    # Five cap colours, none rare: a model that keeps only the majority shows it at once.
    kind = rng.choices(MUSHROOM_KINDS, weights=(3, 2, 2, 2, 1))[0]
    if kind == "red":
        cap = _Palette(rng.uniform(-0.01, 0.03), rng.uniform(0.75, 0.95), rng.uniform(0.75, 0.92))
    elif kind == "brown":
        cap = _Palette(rng.uniform(0.05, 0.09), rng.uniform(0.5, 0.75), rng.uniform(0.38, 0.6))
    else:
        hue = {"purple": (0.75, 0.8), "blue": (0.55, 0.61), "tan": (0.1, 0.12)}[kind]
        cap = _Palette(rng.uniform(*hue), rng.uniform(0.45, 0.7), rng.uniform(0.6, 0.85))
    extra = rng.choices((0, 1, 2), weights=(3, 3, 2))[0]
    side = rng.choice((-1, 1))
    for j in range(extra):
        sc = rng.uniform(0.35, 0.6)
        ox = side * (0.35 + 0.22 * j) * rng.uniform(0.9, 1.15)
        _mushroom_one(pen, rng, ox, sc, kind, cap.shifted(fv=rng.uniform(0.9, 1.05)))
        side = -side if extra == 2 else side
    _mushroom_one(pen, rng, 0.0, 1.0, kind, cap)


def _fern(pen: _Pen, rng: random.Random) -> None:
    pal = _Palette(rng.uniform(0.24, 0.34), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.72))
    n = rng.randint(6, 10)
    spread = rng.uniform(0.55, 0.9)
    fronds = []
    for j in range(n):
        th = -spread + 2 * spread * (j + rng.uniform(0.3, 0.7)) / n
        rel = abs(th) / spread
        L = rng.uniform(0.92, 1.08) * (1 - 0.35 * rel * rel)
        side = math.copysign(1.0, th) if abs(th) > 0.05 else rng.choice((-1.0, 1.0))
        d = (math.sin(th), -math.cos(th))
        p1 = (d[0] * L * 0.65, d[1] * L * 0.65)
        arch = 0.15 + 0.3 * rel
        p2 = (p1[0] + side * L * arch * 0.55, p1[1] + L * (0.05 + 0.45 * rel * arch))
        fronds.append((rel, _bezier((0.0, 0.0), p1, p2, 14)))
    fronds.sort(key=lambda f: -f[0])  # outer (back) fronds first
    ll0 = rng.uniform(0.07, 0.1)
    for rel, pts in fronds:
        fp = pal.shifted(fv=(0.78 + 0.3 * (1 - rel)) * rng.uniform(0.92, 1.06))
        up, down, rachis = fp.light(1.12), fp.dark(0.72), fp.dark(0.55)
        pen.ribbon(pts, [0.011 * (1 - 0.8 * j / 14) for j in range(15)], rachis)
        for j in range(1, 14):
            t = j / 14
            (ax, ay), (bx, by) = pts[j - 1], pts[j + 1]
            phi = math.atan2(by - ay, bx - ax)
            x, y = pts[j]
            ll = ll0 * (1 - t) ** 0.7 * (0.6 if j < 3 else 1.0) + 0.012
            for s, col in ((1, down), (-1, up)):
                pen.leaf(x, y, phi + s * 1.1, ll, ll * 0.3, col)
    pen.oval(0, -0.015, 0.05, 0.025, _hsv(0.08, 0.5, 0.3))


_DRAWERS: dict[str, Callable[[_Pen, random.Random], None]] = {
    "pine": _pine,
    "broadleaf": _broadleaf,
    "palm": _palm,
    "cactus": _cactus,
    "flower": _flower,
    "bush": _bush,
    "mushroom": _mushroom,
    "fern": _fern,
}

# (height as a fraction of the frame: low, high), max lean (shear per unit height)
_FRAMING: dict[str, tuple[float, float, float]] = {
    "pine": (0.7, 0.94, 0.08),
    "broadleaf": (0.68, 0.94, 0.1),
    "palm": (0.72, 0.94, 0.06),
    "cactus": (0.6, 0.9, 0.05),
    "flower": (0.62, 0.92, 0.1),
    "bush": (0.45, 0.7, 0.03),
    "mushroom": (0.55, 0.85, 0.06),
    "fern": (0.6, 0.9, 0.05),
}


# --------------------------------------------------------------------------- public API


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} px, got {size!r}")


def draw_plant(cls: str, rng: random.Random, size: int = 64) -> Image.Image:
    """Draw one plant sprite of class ``cls``: an RGBA image ``size x size``.

    The image is a pure function of the state of ``rng``; fully transparent pixels have RGB 0.
    """
    if cls not in _DRAWERS:
        raise ValueError(f"unknown demo class {cls!r}; choose from {', '.join(DEMO_CLASSES)}")
    _check_size(size)
    h_lo, h_hi, lean_max = _FRAMING[cls]
    height = rng.uniform(h_lo, h_hi)
    lean = rng.uniform(-lean_max, lean_max)
    margin = rng.uniform(0.04, 0.07)
    cx = 0.5 + rng.uniform(-0.06, 0.06)

    k = _SUPERSAMPLE * size * 0.8
    pen = _Pen(k, (-1.6, -1.35, 1.6, 0.15), lean)
    _DRAWERS[cls](pen, rng)
    plant = pen.img

    bbox = plant.getchannel("A").getbbox()
    if bbox is None:  # pragma: no cover - every drawer draws something
        return Image.new("RGBA", (size, size), (0, 0, 0, 0))
    bx0, by0, bx1, _ = bbox
    base_x, base_y = pen.pt(0.0, 0.0)

    # fit: plant height -> height * size, width within the frame, base on the ground line
    s = height * size / max(base_y - by0, 1.0)
    side = max(0.03 * size, 1.0)
    s = min(s, (size - 2 * side) / max(bx1 - bx0, 1.0))
    ground = size - max(margin * size, 1.5)
    s = min(s, (ground - side) / max(base_y - by0, 1.0))
    ox = cx * size - (base_x - bx0) * s  # output x of bbox left
    ox = min(max(ox, side), size - side - (bx1 - bx0) * s)
    oy = ground - (base_y - by0) * s  # output y of bbox top

    # soft contact shadow under the base
    if rng.random() < 0.7:
        rx = max(0.3 * (bx1 - bx0), 0.12 * k)
        ry = 0.028 * k
        blur = 0.014 * k
        pad = int(rx + 3 * blur + 2)
        sh = Image.new("L", (2 * pad, int(2 * (ry + 3 * blur)) + 2), 0)
        sy = sh.size[1] / 2
        ImageDraw.Draw(sh).ellipse(
            [pad - rx, sy - ry, pad + rx, sy + ry], fill=rng.randint(60, 110)
        )
        sh = sh.filter(ImageFilter.GaussianBlur(blur))
        top_y = int(base_y - 0.4 * ry - sy)
        # cut the faint blurred tail where it would reach the last row of the frame
        cut = math.floor(by0 + (size - 1 - oy) / s) - top_y
        if cut < sh.size[1]:
            ImageDraw.Draw(sh).rectangle([0, max(cut, 0), sh.size[0], sh.size[1]], fill=0)
        layer = Image.new("RGBA", sh.size, (20, 16, 10, 0))
        layer.putalpha(sh)
        shadow = Image.new("RGBA", plant.size, (0, 0, 0, 0))
        shadow.paste(layer, (int(base_x - pad), top_y))
        shadow.alpha_composite(plant)
        plant = shadow

    full = plant.getchannel("A").getbbox() or bbox
    fx0 = max(0, math.floor(ox + (full[0] - bx0) * s))
    fy0 = max(0, math.floor(oy + (full[1] - by0) * s))
    fx1 = min(size, math.ceil(ox + (full[2] - bx0) * s))
    fy1 = min(size, math.ceil(oy + (full[3] - by0) * s))
    src = (bx0 + (fx0 - ox) / s, by0 + (fy0 - oy) / s, bx0 + (fx1 - ox) / s, by0 + (fy1 - oy) / s)
    # crop a little around the source box (crop pads with transparency outside the canvas)
    cx0, cy0 = math.floor(src[0]) - 2, math.floor(src[1]) - 2
    region = plant.crop((cx0, cy0, math.ceil(src[2]) + 2, math.ceil(src[3]) + 2))
    src = (src[0] - cx0, src[1] - cy0, src[2] - cx0, src[3] - cy0)
    sprite = region.resize((fx1 - fx0, fy1 - fy0), _RESAMPLE, box=src)

    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(sprite, (fx0, fy0))
    arr = np.asarray(out).copy()
    arr[arr[..., 3] == 0, :3] = 0
    return Image.fromarray(arr, "RGBA")


def _image_rng(seed: int, cls: str, i: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}/{cls}/{i}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _check_args(per_class: int, size: int | None, style: str) -> int:
    """Validate the arguments; return the size (the style's default when ``size`` is None)."""
    if style not in STYLES:
        raise ValueError(f"unknown demo style {style!r}: use one of {', '.join(STYLES)}")
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}")
    size = DEFAULT_SIZES[style] if size is None else size
    (_check_size if style == "plants" else demo_pixel.check_size)(size)
    return size


def style_classes(style: str = "plants") -> tuple[str, ...]:
    """The class names of a demo style, in order."""
    if style not in STYLES:
        raise ValueError(f"unknown demo style {style!r}: use one of {', '.join(STYLES)}")
    return DEMO_CLASSES if style == "plants" else demo_pixel.PIXEL_CLASSES


def _draw(style: str, seed: int, cls: str, i: int, size: int) -> Image.Image:
    if style == "plants":
        return draw_plant(cls, _image_rng(seed, cls, i), size)
    return demo_pixel.draw_item(cls, demo_pixel.item_rng(seed, cls, i), size)


def demo_images(
    per_class: int = 32, seed: int = 0, size: int | None = None, style: str = "plants"
) -> dict[str, list[Image.Image]]:
    """``per_class`` sprites for every class of ``style``, keyed by class name.

    ``size`` None is the style's default (plants 64 px, pixel 16 px). Image ``i`` of a class
    depends only on (style, seed, class, i, size).
    """
    size = _check_args(per_class, size, style)
    return {
        cls: [_draw(style, seed, cls, i, size) for i in range(per_class)]
        for cls in style_classes(style)
    }


def write_demo_folder(
    out: str | os.PathLike,
    per_class: int = 32,
    seed: int = 0,
    size: int | None = None,
    style: str = "plants",
) -> dict[str, int]:
    """Write a demo set as ``OUT/<class>/<class>_<i:03d>.png`` and return counts per class.

    ``style`` is ``plants`` or ``pixel``; ``size`` None is the style's default. The folder is
    built in a temporary sibling directory and renamed into place, so ``OUT`` never holds a
    partial set. An existing empty ``OUT`` is replaced; a non-empty one (or a file) raises
    :class:`FileExistsError`.
    """
    size = _check_args(per_class, size, style)
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(
            f"demo output folder {str(target)!r} already exists and is not empty; "
            "choose a new folder or remove it first"
        )
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=parent))
    try:
        counts: dict[str, int] = {}
        for cls in style_classes(style):
            cdir = tmp / cls
            cdir.mkdir()
            for i in range(per_class):
                img = _draw(style, seed, cls, i, size)
                img.save(cdir / f"{cls}_{i:03d}.png", optimize=False)
            counts[cls] = per_class
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700
        if target.exists():
            target.rmdir()  # empty (checked above); fails loudly if something appeared since
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def _contact_sheet(
    images: dict[str, list[Image.Image]], cols: int = 12, scale: int = 2
) -> Image.Image:  # pragma: no cover - a viewing aid
    """Rows of sprites per class, upscaled, on a mid-grey background."""
    first = next(iter(images.values()))[0]
    cell = first.size[0] * scale + 4
    sheet = Image.new("RGBA", (cols * cell + 4, len(images) * cell + 4), (128, 128, 128, 255))
    for r, imgs in enumerate(images.values()):
        for c, img in enumerate(imgs[:cols]):
            big = img.resize((img.size[0] * scale, img.size[1] * scale), Image.Resampling.NEAREST)
            sheet.alpha_composite(big, (4 + c * cell, 4 + r * cell))
    return sheet


if __name__ == "__main__":  # pragma: no cover
    import sys
    import time

    px = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    t0 = time.perf_counter()
    imgs = demo_images(per_class=12, seed=0, size=px)
    print(f"{time.perf_counter() - t0:.2f}s for {12 * len(imgs)} images at {px}px")
    dest = sys.argv[2] if len(sys.argv) > 2 else "/tmp/demo_sheet.png"
    _contact_sheet(imgs, scale=max(1, 128 // px)).save(dest)
    print("wrote", dest)
