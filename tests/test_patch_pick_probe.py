"""The patch-pick probe (benchmarks/patch_pick_probe.py): its atoms are real patches, and
picking the nearest atoms remakes an image that is made of them."""

from __future__ import annotations

import pytest
from helpers import load_benchmark

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _probe():
    return load_benchmark("patch_pick_probe")


def _tiled(n: int = 6, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Opaque images made of 4x4 tiles, each tile one of three textured patches."""
    g = torch.Generator().manual_seed(seed)
    tiles = torch.rand(3, 4, 4, 4, generator=g)
    tiles[:, 3] = 1.0
    pick = torch.randint(0, 3, (n, size // 4, size // 4), generator=g)
    x = tiles[pick]  # [n, G, G, 4, 4, 4]
    return x.permute(0, 3, 1, 4, 2, 5).reshape(n, 4, size, size)


def test_mosaic_atoms_are_real_patches_and_remake_a_tiled_image_exactly():
    probe = _probe()
    x = _tiled()
    atoms = probe.Atoms("mosaic", 8, 32)
    atoms.fit(x, seed=0, iters=5)
    shifts = [(dy, dx) for dy in (0, 2) for dx in (0, 2)]  # the offsets the fit cuts at
    real = torch.cat([atoms.cells(torch.roll(x, s, (2, 3))).reshape(-1, atoms.dim) for s in shifts])
    d = torch.cdist(atoms.atoms[1:], real).min(1).values
    assert float(d.max()) < 1e-2  # every atom but the transparent one is a patch of the art
    assert float(atoms.atoms[0].abs().max()) == 0.0
    # Given the three tiles as atoms, the nearest-atom picks remake the image exactly.
    atoms.atoms = torch.cat([torch.zeros(1, atoms.dim), atoms.cells(x).reshape(-1, atoms.dim)])
    atoms.atoms = torch.unique(atoms.atoms, dim=0)
    assert atoms.k == 4
    pick = F.one_hot(atoms.targets(x).view(len(x), 8, 8), 4).permute(0, 3, 1, 2).float()
    assert torch.allclose(atoms.image(pick), x, atol=1e-5)


def test_overlap_add_window_sums_to_one_so_a_flat_image_comes_back_flat():
    probe = _probe()
    x = torch.ones(2, 4, 32, 32)
    x[:, :3] = torch.tensor([0.2, 0.5, 0.8])[:, None, None]
    atoms = probe.Atoms("ola", 4, 32)
    atoms.fit(x, seed=0, iters=3)
    assert float(atoms.atoms[0].abs().max()) == 0.0 and float(atoms.atoms[1:].max()) > 0.0
    # A flat image has nine kinds of cell (inside, four edges, four corners, the edges cut by the
    # padding): four fitted atoms cannot hold them all, so give it every one, then test the window.
    cells = torch.unique(atoms.cells(x).reshape(-1, atoms.dim), dim=0)
    atoms.atoms = torch.cat([torch.zeros(1, atoms.dim), cells])
    assert atoms.k == 10
    pick = F.one_hot(atoms.targets(x).view(2, 8, 8), atoms.k).permute(0, 3, 1, 2).float()
    out = atoms.image(pick)
    # Every pixel at least 2 px from the border is covered by four windows that sum to one.
    assert torch.allclose(out[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2], atol=1e-5)
    assert float(out[:, 3, 0, 0].max()) < 1.0  # the border gets only part of a window
