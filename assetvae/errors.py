"""Errors of the trainer side; all derive from the runtime's AssetVAEError."""

from .datasets.folder import DatasetError
from .plugin_api.errors import AssetVAEError, BundleError, SamplingError

__all__ = ["AssetVAEError", "BundleError", "SamplingError", "ConfigError", "DatasetError",
           "CheckpointError"]


class ConfigError(AssetVAEError):
    """An option out of range or inconsistent with others."""


class CheckpointError(AssetVAEError):
    """A run directory whose checkpoint is missing, damaged or not an assetvae checkpoint."""
