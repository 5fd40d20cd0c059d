"""ONNX export of a trained decoder into an assetvae bundle (needs the ``train`` extra)."""
