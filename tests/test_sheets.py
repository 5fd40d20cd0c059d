"""Sprite sheets and atlases in: grids, TexturePacker, Aseprite, pingus .sprite, freedroid
atlas.txt and numbered files, each synthesised here, cut into frames that know their
animation; bad input is a one-line warning naming the file, and nothing else is lost."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assetvae.datasets.folder import LoadOptions, load_folder, split_indices
from assetvae.datasets.sheets import (
    Cut,
    FrameRef,
    SheetOptions,
    compose,
    cut_region,
    detect_grid,
    frame_group,
    grid_cuts,
    load_dataset,
    parse_atlas_json,
    parse_freedroid_atlas,
    parse_grid,
    parse_pingus_sprite,
    split_groups,
)
from assetvae.errors import ConfigError, DatasetError

S = 16  # frame size of the synthetic sheets


def frame(i: int, colour=(200, 40, 40), size: int = S) -> np.ndarray:
    """A frame of a little walker: a 6x8 body that steps right by i px, one leg up."""
    a = np.zeros((size, size, 4), np.uint8)
    x = 2 + i
    a[4:12, x : x + 6] = (*colour, 255)
    a[12:14, x + (i % 2) * 4 : x + (i % 2) * 4 + 2] = (20, 20, 20, 255)
    return a


def save(a: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, "RGBA").save(path)
    return path


def strip(frames: list[np.ndarray], cols: int | None = None, gap: int = 0) -> np.ndarray:
    cols = cols or len(frames)
    rows = -(-len(frames) // cols)
    h, w = frames[0].shape[:2]
    out = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 4), np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = f
    return out


def load(root: Path, size: int = S, **kw) -> object:
    opts = LoadOptions(size=size, crop=kw.pop("crop", True))
    return load_dataset(root, opts, SheetOptions(**kw), use_cache=False)


# --- parsing ------------------------------------------------------------------------------
def test_parse_grid():
    assert parse_grid("32x48") == (32, 48) and parse_grid(" 16 X 16 ") == (16, 16)
    assert parse_grid("auto") == "auto" and parse_grid(None) is None
    for bad in ("32", "0x8", "axb", "32x32x2"):
        with pytest.raises(ConfigError, match="--grid"):
            parse_grid(bad)


def test_frame_group_names():
    assert frame_group("walk_03.png") == ("walk", 3)
    assert frame_group("walk/0003") == ("walk", 3)
    assert frame_group("enemy_rot_04_attack-02.png") == ("enemy_rot_04_attack", 2)
    assert frame_group("sprite 7.aseprite") == ("sprite", 7)
    assert frame_group("tree.png") == ("tree", None)
    assert frame_group("007.png") == ("007", None)  # a number alone names no animation


def test_grid_cuts_margin_spacing_and_errors():
    cuts = grid_cuts((2 + 3 * 16 + 2 * 1 + 2, 2 + 16 + 2), (16, 16), 2, 1, "s.png", "s")
    assert [c.box for c in cuts] == [(2, 2, 16, 16), (19, 2, 16, 16), (36, 2, 16, 16)]
    assert [c.index for c in cuts] == [0, 1, 2] and cuts[0].animation == "s"
    assert len(grid_cuts((3 * 17, 16), (16, 16), 0, 1, "s.png", "s")) == 3  # trailing spacing
    with pytest.raises(DatasetError, match=r"^s\.png: 50x16 px is not a whole number of 16x16"):
        grid_cuts((50, 16), (16, 16), 0, 0, "s.png", "s")


def test_detect_grid_by_gutters():
    sheet = strip([frame(i % 2) for i in range(8)], cols=4)
    assert detect_grid(sheet[..., 3]) == (4, 2, 16, 16, 0, 0)
    # with gutters: the pitch where the sprites sit alike in their cells (animated in place)
    spaced = strip([frame(i % 2) for i in range(8)], cols=4, gap=3)
    assert detect_grid(spaced[..., 3]) == (4, 2, 16, 16, 3, 3)
    assert detect_grid(frame(0)[..., 3]) is None  # one sprite
    two_blobs = np.zeros((16, 40, 4), np.uint8)  # a sprite of two parts that are not a grid
    two_blobs[2:10, 1:5, 3] = 255
    two_blobs[2:14, 12:38, 3] = 255
    assert detect_grid(two_blobs[..., 3]) is None


def test_texturepacker_rotated_and_trimmed_frames_come_back_exactly(tmp_path):
    frames = [frame(i) for i in range(4)]
    atlas = np.zeros((40, 64, 4), np.uint8)
    doc = {
        "frames": {},
        "meta": {
            "app": "https://www.codeandweb.com/texturepacker",
            "image": "walker.png",
            "size": {"w": 64, "h": 40},
        },
    }
    x = 0
    for i, f in enumerate(frames):
        ys, xs = np.nonzero(f[..., 3])
        trim = f[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        rotated = i % 2 == 1
        stored = np.rot90(trim, -1) if rotated else trim  # TexturePacker turns it clockwise
        h, w = stored.shape[:2]
        atlas[0:h, x : x + w] = stored
        doc["frames"][f"walk_{i:02d}.png"] = {
            "frame": {"x": x, "y": 0, "w": trim.shape[1], "h": trim.shape[0]},
            "rotated": rotated,
            "trimmed": True,
            "spriteSourceSize": {
                "x": int(xs.min()),
                "y": int(ys.min()),
                "w": trim.shape[1],
                "h": trim.shape[0],
            },
            "sourceSize": {"w": S, "h": S},
        }
        x += w + 1
    save(atlas, tmp_path / "hero" / "walker.png")
    (tmp_path / "hero" / "walker.json").write_text(json.dumps(doc))
    ds = load(tmp_path, crop=False)  # the untrimmed canvas, 16 px: no resampling at all
    assert [r.animation for r in ds.frames] == ["walk"] * 4
    assert [r.index for r in ds.frames] == [0, 1, 2, 3]
    assert ds.frames[0].instance == "walker"
    for got, want in zip(ds.images, frames):
        np.testing.assert_array_equal(got, want)


def test_texturepacker_array_with_animations_list(tmp_path):
    frames = [frame(i) for i in range(3)]
    save(strip(frames), tmp_path / "a" / "sheet.png")
    doc = {
        "frames": [
            {"filename": n, "frame": {"x": i * S, "y": 0, "w": S, "h": S}}
            for i, n in enumerate(["c.png", "a.png", "b.png"])
        ],
        "animations": {"idle": ["a.png", "b.png", "c.png"]},
        "meta": {"image": "sheet.png"},
    }
    (tmp_path / "a" / "sheet.json").write_text(json.dumps(doc))
    ds = load(tmp_path, crop=False)
    assert [(r.animation, r.index) for r in ds.frames] == [("idle", 0), ("idle", 1), ("idle", 2)]
    np.testing.assert_array_equal(ds.images[0], frames[1])  # "a.png" is the animation's first


def test_aseprite_frame_tags_become_animations(tmp_path):
    frames = [frame(i, (40, 40 + 20 * i, 200)) for i in range(6)]
    save(strip(frames), tmp_path / "slime" / "slime.png")
    doc = {
        "frames": {
            f"slime {i}.aseprite": {
                "frame": {"x": i * S, "y": 0, "w": S, "h": S},
                "duration": 80 + i,
            }
            for i in range(6)
        },
        "meta": {
            "app": "http://www.aseprite.org/",
            "image": "slime.png",
            "frameTags": [
                {"name": "idle", "from": 0, "to": 2, "direction": "pingpong"},
                {"name": "jump", "from": 3, "to": 4, "direction": "reverse"},
            ],
        },
    }
    (tmp_path / "slime" / "slime.json").write_text(json.dumps(doc))
    ds = load(tmp_path)
    anims = [(r.animation, r.index, r.duration_ms, r.direction) if r else None for r in ds.frames]
    assert anims.count(None) == 1  # frame 5 is in no tag: a still
    assert ("idle", 2, 82, "pingpong") in anims and ("jump", 1, 84, "reverse") in anims


def test_aseprite_without_tags_is_one_animation():
    doc = {
        "frames": [
            {"filename": f"x {i}", "frame": {"x": i, "y": 0, "w": 1, "h": 1}} for i in range(3)
        ],
        "meta": {"app": "http://www.aseprite.org/"},
    }
    _, cuts, kind = parse_atlas_json(doc, "x.json", "bat")
    assert kind == "aseprite" and {c.animation for c in cuts} == {"bat"}


def test_pingus_sprite_rows_of_one_image(tmp_path):
    left = [frame(i) for i in range(4)]
    right = [np.ascontiguousarray(f[:, ::-1]) for f in left]
    save(np.concatenate([strip(left), strip(right)], axis=0), tmp_path / "pingu" / "walker.png")
    d = tmp_path / "pingu" / "walker"
    d.mkdir()
    (d / "left.sprite").write_text(
        '(pingus-sprite\n  (image "../walker.png")\n  (offset 0 2)\n'
        '  (origin "bottom_center")\n  (speed 80)\n  (loop #t)\n'
        "  (array 4 1)\n  (size 16 16))\n"
    )
    (d / "right.sprite").write_text(
        '(pingus-sprite (image "../walker.png") (position 0 16) (array 4 1))'
    )  # no size: the image's width / 4
    ds = load(tmp_path, crop=False)
    refs = ds.frames
    assert {r.animation for r in refs} == {"walker/left", "walker/right"}
    assert {r.instance for r in refs} == {"walker"}
    assert {r.duration_ms for r in refs if r.animation == "walker/left"} == {80}
    got = {(r.animation, r.index): im for r, im in zip(refs, ds.images)}
    np.testing.assert_array_equal(got[("walker/right", 2)], right[2])
    spec = parse_pingus_sprite('(pingus-sprite (image "x.png"))', "x.sprite")
    assert spec == {"image": "x.png"}
    with pytest.raises(DatasetError, match="x.sprite: not a pingus sprite"):
        parse_pingus_sprite('(image "x.png")', "x.sprite")


def test_freedroid_atlas_pages_and_offsets(tmp_path):
    """Trimmed frames placed by their offsets from the anchor; an animation across pages."""
    frames = [frame(i) for i in range(4)]
    d = tmp_path / "robot" / "r123"
    lines, pages = [], [np.zeros((20, 40, 4), np.uint8), np.zeros((20, 40, 4), np.uint8)]
    for i, f in enumerate(frames):
        ys, xs = np.nonzero(f[..., 3])
        trim = f[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        page = i // 2
        x = (i % 2) * 20
        if i % 2 == 0:
            lines.append(f"* r123_{page + 1}.png size 40 20")
        pages[page][0 : trim.shape[0], x : x + trim.shape[1]] = trim
        # the frame's top-left relative to an anchor at the sprite's bottom centre (8, 16)
        lines.append(
            f"enemy_rot_01_walk-{i:02d}.png {x} 0 {trim.shape[1]} {trim.shape[0]} "
            f"off {xs.min() - 8} {ys.min() - 16}"
        )
    for p, a in enumerate(pages):
        save(a, d / f"r123_{p + 1}.png")
    (d / "atlas.txt").write_text("\n".join(lines) + "\n")
    parsed = parse_freedroid_atlas((d / "atlas.txt").read_text(), "atlas.txt")
    assert [name for name, _ in parsed] == ["r123_1.png", "r123_2.png"]
    ds = load(tmp_path, size=16)
    assert [r.animation for r in ds.frames] == ["enemy_rot_01_walk"] * 4
    assert ds.frames[0].instance == "r123/atlas"
    # the union of the opaque areas is 9 x 10 px (x 2..11, y 4..14): fitted into 16 px by
    # nearest, and the body still steps right by one source pixel per frame
    left_edges = [int(np.nonzero(im[8, :, 3])[0].min()) for im in ds.images]
    assert left_edges == sorted(left_edges) and left_edges[-1] > left_edges[0]


def test_numbered_files_are_one_animation_but_a_class_of_oak_files_is_stills(tmp_path):
    for i in range(4):
        save(frame(i), tmp_path / "slime" / f"walk_{i}.png")
        save(frame(i, (30, 160, 30)), tmp_path / "slime" / f"jump_{i}.png")
        save(frame(i, (30, 30, 160)), tmp_path / "oak" / f"oak_{i:03d}.png")
    ds = load(tmp_path)
    by_class = {}
    for lab, r in zip(ds.labels, ds.frames):
        by_class.setdefault(ds.classes[lab], []).append(r)
    assert set(by_class["oak"]) == {None}
    assert {(r.animation, r.instance) for r in by_class["slime"]} == {("walk", ""), ("jump", "")}
    # motion survives: the frames share one crop, so the body still steps right
    walk = [im for im, r in zip(ds.images, ds.frames) if r and r.animation == "walk"]
    edges = [int(np.nonzero(im[:, :, 3].any(axis=0))[0].min()) for im in walk]
    assert edges[0] < edges[-1]


def test_a_folder_of_stills_loads_as_before(tmp_path):
    for i in range(3):
        save(frame(i), tmp_path / "a" / f"a_{i:03d}.png")
        save(frame(i, (1, 2, 3), size=S + i), tmp_path / "b" / f"thing{i}.png")  # not one size
    ds = load(tmp_path)
    old = load_folder(tmp_path, LoadOptions(size=S), use_cache=False)
    assert ds.frames is None and ds.fingerprint() == old.fingerprint()


def test_grid_sheets_explicit_and_auto(tmp_path):
    frames = [frame(i) for i in range(6)]
    save(strip(frames, cols=3), tmp_path / "walker" / "walk.png")
    logged = []
    ds = load_dataset(
        tmp_path,
        LoadOptions(size=S, crop=False),
        SheetOptions(grid=(16, 16)),
        use_cache=False,
        log=logged.append,
    )
    assert [r.index for r in ds.frames] == list(range(6))
    np.testing.assert_array_equal(ds.images[4], frames[4])
    assert "walk.png: 3x2 frames of 16x16" in logged
    gap = strip([frame(i % 2) for i in range(6)], cols=3, gap=4)  # found without --grid WxH
    save(gap, tmp_path / "walker" / "walk.png")
    logged.clear()
    ds = load_dataset(
        tmp_path, LoadOptions(size=S), SheetOptions(grid="auto"), use_cache=False, log=logged.append
    )
    assert len(ds.images) == 6 and logged[0] == "walk.png: 3x2 frames of 16x16"


def test_compose_keeps_offsets():
    a = np.zeros((2, 2, 4), np.uint8)
    a[..., 3] = 255
    from assetvae.datasets.sheets import _Piece

    pieces = [
        _Piece(a, (0, 0), (0, 0, 2, 2), None, Path("x")),
        _Piece(a, (3, 1), (3, 1, 2, 2), None, Path("x")),
    ]
    out = compose(pieces, crop=True)
    assert out[0].shape == (3, 5, 4)
    assert out[0][0:2, 0:2, 3].all() and out[1][1:3, 3:5, 3].all() and not out[1][0, 0, 3]


def test_cut_region_rotation_direction():
    sheet = np.zeros((3, 2, 4), np.uint8)  # a 3x2 upright frame stored turned clockwise: 2 tall
    upright = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    sheet = np.rot90(upright, -1).copy()
    got = cut_region(sheet, Cut("f", (0, 0, 3, 2), rotated=True), "a.json")
    np.testing.assert_array_equal(got, upright)
    with pytest.raises(DatasetError, match=r"a\.json: frame 'f' \(0, 0, 3x2\) lies outside"):
        cut_region(sheet, Cut("f", (0, 0, 3, 2)), "a.json")


# --- bad input: one line naming the file, nothing else lost ---------------------------------
def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught]


def test_bad_sheets_warn_and_the_rest_loads(tmp_path):
    good = [frame(i) for i in range(4)]
    save(strip(good), tmp_path / "a" / "good.png")
    save(np.zeros((16, 50, 4), np.uint8) + 255, tmp_path / "b" / "odd.png")  # 50 px: no 16 grid
    save(strip(good), tmp_path / "b" / "fine.png")
    ds, caught = _warnings_of(lambda: load(tmp_path, grid=(16, 16)))
    assert len(ds.images) == 8
    assert len(caught) == 1 and "odd.png: 50x16 px is not a whole number of 16x16" in caught[0]
    assert "\n" not in caught[0]


def test_bad_atlas_entries_warn(tmp_path):
    frames = [frame(i) for i in range(3)]
    sheet = strip(frames)
    sheet[:, 2 * S :] = 0  # the third frame is empty
    save(sheet, tmp_path / "c" / "s.png")
    doc = {"frames": {f"f_{i}": {"frame": {"x": i * S, "y": 0, "w": S, "h": S}} for i in range(3)}}
    doc["frames"]["f_3"] = {"frame": {"x": 40, "y": 0, "w": S, "h": S}}  # reaches past 48 px
    doc["meta"] = {"image": "s.png"}
    (tmp_path / "c" / "s.json").write_text(json.dumps(doc))
    save(frame(0), tmp_path / "c" / "broken.png")
    (tmp_path / "c" / "broken.json").write_text("{ not json")
    (tmp_path / "c" / "notes.json").write_text('{"author": "me"}')
    ds, caught = _warnings_of(lambda: load(tmp_path))
    assert len(ds.images) == 2  # f_0 and f_1; broken.png is not taken for a single sprite
    text = "\n".join(caught)
    assert "s.json: frame 'f_3' (40, 0, 16x16) lies outside its image (48x16); skipped" in text
    assert "s.json: 1 empty frame(s) skipped ('f_2')" in text
    assert "broken.json: not valid JSON" in text
    assert "notes.json: not a sprite atlas" in text
    assert all("\n" not in w for w in caught)


def test_a_class_left_without_frames_is_an_error(tmp_path):
    save(frame(0), tmp_path / "a" / "a.png")
    save(np.zeros((16, 32, 4), np.uint8), tmp_path / "b" / "blank.png")
    (tmp_path / "b" / "blank.json").write_text(
        json.dumps({"frames": {"x": {"frame": {"x": 0, "y": 0, "w": 16, "h": 16}}}, "meta": {}})
    )
    with pytest.raises(DatasetError, match="class.*b"):
        _warnings_of(lambda: load(tmp_path))


def test_tag_out_of_range_is_one_line(tmp_path):
    doc = {
        "frames": [{"frame": {"x": 0, "y": 0, "w": 1, "h": 1}}],
        "meta": {"frameTags": [{"name": "run", "from": 0, "to": 3}]},
    }
    with pytest.raises(DatasetError, match=r"^a.json: tag 'run' spans frames 0\.\.3, but the "):
        parse_atlas_json(doc, "a.json", "a")


def test_split_keeps_each_animation_on_one_side(tmp_path):
    refs = [FrameRef(f"s{k}", "walk", i) for k in range(6) for i in range(5)]
    labels = np.zeros(len(refs), np.int64)
    paths = [Path(f"s{k}.png") for k in range(6) for _ in range(5)]
    train, val = split_indices(labels, paths, 0.2, 0, groups=split_groups(refs))
    assert len(val) and len(train)
    sides = {}
    for i in val:
        sides.setdefault(refs[i].instance, set()).add("val")
    for i in train:
        sides.setdefault(refs[i].instance, set()).add("train")
    assert all(len(s) == 1 for s in sides.values())


def test_a_long_numbered_set_is_stills(tmp_path):
    from assetvae.datasets.folder import scan_folder
    from assetvae.datasets.sheets import MAX_NUMBERED_FRAMES, FolderPlan, plan_folder

    for i in range(MAX_NUMBERED_FRAMES + 1):  # img_000 ... in class "cats": a data set, not a walk
        save(frame(i % 4), tmp_path / "cats" / f"img_{i:03d}.png")
    plan: FolderPlan = plan_folder(scan_folder(tmp_path))
    assert not plan.animated


def test_a_one_cell_grid_sheet_is_a_still(tmp_path):
    save(frame(0), tmp_path / "a" / "one.png")
    save(strip([frame(i) for i in range(2)]), tmp_path / "a" / "two.png")
    ds = load(tmp_path, grid=(16, 16))
    assert sorted(r.animation if r else "" for r in ds.frames) == ["", "two", "two"]
