"""Every error the runtime raises on purpose. The CLI turns each into one line and exit code 2.

The runtime owns these so that every layer above it (datasets, export, trainer, CLI) can
share one base class without the runtime importing anything of theirs. Each class a user
catches is exported from ``assetvae.plugin_api``.
"""


class AssetVAEError(Exception):
    """Base of every error caused by the user's input: bad files, flags or bundles."""


class BundleError(AssetVAEError):
    """A bundle that is not an assetvae bundle, is damaged, or is from a newer version."""


class SamplingError(AssetVAEError):
    """A sampling request that cannot be served: unknown class, bad spread, n, seed or key."""


class DeviceError(AssetVAEError):
    """A device was asked for that this machine or onnxruntime build cannot provide."""


class AtlasError(AssetVAEError):
    """A bake that cannot be done as asked: bad sizes, key ranges or blend syntax."""


class GeneratorClosedError(AssetVAEError):
    """A Generator was used after ``close()`` (or after its ``with`` block ended)."""
