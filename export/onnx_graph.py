"""Build the decoder's ONNX graph directly from its weights, with onnx.helper.

Why not torch.onnx.export: the TorchScript exporter is deprecated since PyTorch 2.9 and the
torch.export-based one targets newer opsets with a less predictable node set. Engine
runtimes lag (Unity Sentis: opsets 7-15; Unreal's GPU runtime lacks many ops), so the graph
must stay opset 13 and use only ALLOWED_OPS. The decoder is a plain stack of Linear,
LeakyReLU, nearest Upsample and Conv2d layers, so writing it out node by node is short, and
the parity check at export proves it matches torch.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from ..model import BOTTOM, Decoder

OPSET = 13
ALLOWED_OPS = frozenset({
    "Gemm", "MatMul", "Conv", "ConvTranspose", "Resize", "Relu", "LeakyRelu", "Sigmoid",
    "Add", "Mul", "Reshape", "Transpose", "Round", "Clip", "Cast",
})


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        self.count += 1
        out = output or f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", **attrs))
        return out


def _f32(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def decoder_graph(decoder: Decoder, latent_dim: int, image_size: int, output: str = "uint8_nhwc") -> onnx.ModelProto:
    """z float32 [N, latent] -> image uint8 [N, S, S, 4] (or float32 [N, 4, S, S] in [0, 1])."""
    b = _Builder()
    h = b.node("Gemm", ["z", b.const("fc.weight", _f32(decoder.fc.weight)), b.const("fc.bias", _f32(decoder.fc.bias))],
               transB=1)
    h = b.node("Reshape", [h, b.const("bottom_shape", np.array([-1, decoder.bottom_channels, BOTTOM, BOTTOM], np.int64))])
    scales = b.const("upsample_scales", np.array([1, 1, 2, 2], np.float32))
    for i, layer in enumerate(decoder.net):
        if isinstance(layer, nn.LeakyReLU):
            h = b.node("LeakyRelu", [h], alpha=float(layer.negative_slope))
        elif isinstance(layer, nn.Upsample):
            if layer.mode != "nearest" or layer.scale_factor != 2:
                raise ValueError(f"unsupported upsample {layer}")
            # asymmetric + floor reproduces torch's nearest upsampling exactly.
            h = b.node("Resize", [h, "", scales], mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0]
            p = layer.padding[0]
            h = b.node("Conv", [h, b.const(f"conv{i}.weight", _f32(layer.weight)),
                                b.const(f"conv{i}.bias", _f32(layer.bias))],
                       kernel_shape=[k, k], pads=[p, p, p, p], strides=[1, 1])
        else:
            raise ValueError(f"decoder layer {layer.__class__.__name__} has no ONNX mapping")
    h = b.node("Sigmoid", [h], output="image" if output == "float32_nchw" else None)
    if output == "float32_nchw":
        out_info = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 4, image_size, image_size])
    else:
        h = b.node("Mul", [h, b.const("scale255", np.array(255.0, np.float32))])
        h = b.node("Round", [h])  # half to even, as torch.round
        h = b.node("Clip", [h, b.const("zero", np.array(0.0, np.float32)), b.const("max255", np.array(255.0, np.float32))])
        h = b.node("Cast", [h], to=TensorProto.UINT8)
        b.node("Transpose", [h], output="image", perm=[0, 2, 3, 1])
        out_info = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", image_size, image_size, 4])
    graph = helper.make_graph(
        b.nodes, "assetvae_decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent_dim])],
        [out_info], initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="assetvae")
    model.ir_version = 8  # readable by ONNX Runtime >= 1.10 and engine runtimes of that age
    onnx.checker.check_model(model, full_check=True)
    return model
