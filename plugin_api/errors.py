"""Typed errors a user can cause. The CLI turns each into a one-line message and exit code 2.

The runtime owns these so that every layer above it (datasets, export, trainer, CLI) can
share one base class without the runtime importing anything of theirs.
"""


class AssetVAEError(Exception):
    """Base of every error caused by the user's input: bad files, flags or bundles."""


class BundleError(AssetVAEError):
    """A bundle that is not an assetvae bundle, is damaged, or is from a newer version."""


class SamplingError(AssetVAEError):
    """A sampling request that cannot be served: unknown class, bad spread, n, seed or key."""
