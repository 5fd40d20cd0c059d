"""Errors of the trainer side (datasets, config, run directories, export), in one place.

All derive from the runtime's AssetVAEError, so a host catches every user error with one
class; the runtime's own errors live in assetvae.plugin_api.errors.
"""

from .plugin_api.errors import AssetVAEError, BundleError, SamplingError

__all__ = [
    "AssetVAEError",
    "BundleError",
    "SamplingError",
    "ConfigError",
    "DatasetError",
    "ImageLoadError",
    "CheckpointError",
    "ExportError",
]


class ConfigError(AssetVAEError):
    """An option out of range or inconsistent with others."""


class DatasetError(AssetVAEError):
    """An asset folder that cannot be used: missing, empty, or a class with no readable image."""


class ImageLoadError(AssetVAEError):
    """One image file that cannot be decoded (skipped with a warning when loading a folder)."""


class CheckpointError(AssetVAEError):
    """A run directory whose checkpoint is missing, damaged or not an assetvae checkpoint."""


class ExportError(AssetVAEError):
    """The exported graph does not reproduce the torch decoder."""
