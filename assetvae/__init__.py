"""assetvae: train a VAE on sprite folders, export an ONNX bundle, sample reproducible variants.

Importing this package is cheap: it pulls in no torch. The trainer lives in
``assetvae.train`` (needs the ``train`` extra); the engine-facing runtime is
``assetvae.plugin_api`` (numpy + onnxruntime only).
"""

__version__ = "0.1.0"
