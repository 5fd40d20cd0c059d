"""The torch-free runtime: load an assetvae bundle and generate reproducible variants.

    from assetvae.plugin_api import Generator
    gen = Generator.load("plants.avae.onnx")
    trees = gen.variants(seed=world_seed, keys=range(200), cls="pine", spread=0.6)  # uint8 [200, H, W, 4]

Imports numpy and onnxruntime only; never torch, never the trainer.
"""

from .bundle import read_manifest
from .errors import AssetVAEError, BundleError, SamplingError
from .generator import Generator
from .images import labelled_grid, to_pil
from .manifest import FORMAT_VERSION, Manifest

__all__ = [
    "Generator", "Manifest", "read_manifest", "to_pil", "labelled_grid",
    "AssetVAEError", "BundleError", "SamplingError", "FORMAT_VERSION",
]
