"""The torch-free runtime: load an assetvae bundle and generate reproducible variants.

    from assetvae.plugin_api import Generator
    with Generator.load("plants.avae.onnx") as gen:
        trees = gen.variants("pine", range(200), seed=world_seed, spread=0.6)  # [200, H, W, 4]

Importing it, loading a bundle and generating variants needs numpy and onnxruntime only;
never torch, never the trainer. Pillow is loaded only by what needs it: ``to_pil``,
``Generator.encode`` (and what calls it), ``plugin_api.images`` and ``plugin_api.atlas``.
"""

from .bundle import read_manifest
from .errors import (
    AssetVAEError,
    AtlasError,
    BundleError,
    DeviceError,
    GeneratorClosedError,
    SamplingError,
)
from .generator import Generator
from .layout import OutputLayout
from .manifest import Manifest

__all__ = [
    "Generator",
    "Manifest",
    "OutputLayout",
    "read_manifest",
    "to_pil",
    "AssetVAEError",
    "BundleError",
    "SamplingError",
    "DeviceError",
    "AtlasError",
    "GeneratorClosedError",
]


def __getattr__(name: str):
    if name == "to_pil":  # Pillow is imported on first use, not by `import assetvae.plugin_api`
        from .images import to_pil

        return to_pil
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
