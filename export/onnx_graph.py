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


def fold_batch_norm(weight: np.ndarray, bias: np.ndarray, bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Conv then eval-mode BatchNorm as one Conv (engines' BatchNormalization support varies)."""
    scale = (bn.weight.detach().double() / (bn.running_var.double() + bn.eps).sqrt()).numpy()
    w = weight.astype(np.float64) * scale[:, None, None, None]
    b = (bias.astype(np.float64) - bn.running_mean.double().numpy()) * scale + bn.bias.detach().double().numpy()
    return w.astype(np.float32), b.astype(np.float32)


def decoder_graph(decoder: Decoder, latent_dim: int, image_size: int, output: str = "uint8_nhwc") -> onnx.ModelProto:
    """z float32 [N, latent] -> image uint8 [N, S, S, 4] (or float32 [N, 4, S, S] in [0, 1])."""
    b = _Builder()
    h = b.node("Gemm", ["z", b.const("fc.weight", _f32(decoder.fc.weight)), b.const("fc.bias", _f32(decoder.fc.bias))],
               transB=1)
    h = b.node("Reshape", [h, b.const("bottom_shape", np.array([-1, decoder.bottom_channels, BOTTOM, BOTTOM], np.int64))])
    scales = b.const("upsample_scales", np.array([1, 1, 2, 2], np.float32))
    layers = list(decoder.net)
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.LeakyReLU):
            h = b.node("LeakyRelu", [h], alpha=float(layer.negative_slope))
        elif isinstance(layer, nn.Upsample):
            if layer.mode != "nearest" or layer.scale_factor != 2:
                raise ValueError(f"unsupported upsample {layer}")
            # asymmetric + floor reproduces torch's nearest upsampling exactly.
            h = b.node("Resize", [h, "", scales], mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif isinstance(layer, nn.Conv2d):
            weight, bias = _f32(layer.weight), _f32(layer.bias)
            if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d):
                weight, bias = fold_batch_norm(weight, bias, layers[i + 1])
            k, p = layer.kernel_size[0], layer.padding[0]
            h = b.node("Conv", [h, b.const(f"conv{i}.weight", weight), b.const(f"conv{i}.bias", bias)],
                       kernel_shape=[k, k], pads=[p, p, p, p], strides=[1, 1])
        elif isinstance(layer, nn.BatchNorm2d):
            if not (i and isinstance(layers[i - 1], nn.Conv2d)):
                raise ValueError("a batch norm must follow a convolution to be folded")
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


def _group_norm(b: _Builder, h: str, layer: nn.GroupNorm, i: int) -> str:
    """GroupNorm from plain ops (opset 13 has no GroupNormalization)."""
    c, g = layer.num_channels, layer.num_groups
    grouped = b.node("Reshape", [h, b.const(f"gn{i}.grouped", np.array([0, g, -1], np.int64))])
    mean = b.node("ReduceMean", [grouped], axes=[2], keepdims=1)
    centred = b.node("Sub", [grouped, mean])
    var = b.node("ReduceMean", [b.node("Mul", [centred, centred])], axes=[2], keepdims=1)
    std = b.node("Sqrt", [b.node("Add", [var, b.const(f"gn{i}.eps", np.array(layer.eps, np.float32))])])
    normed = b.node("Div", [centred, std])
    shape = b.node("Shape", [h])  # back to [N, C, H, W]
    h = b.node("Reshape", [normed, shape])
    h = b.node("Mul", [h, b.const(f"gn{i}.weight", _f32(layer.weight).reshape(c, 1, 1))])
    return b.node("Add", [h, b.const(f"gn{i}.bias", _f32(layer.bias).reshape(c, 1, 1))])


def encoder_graph(encoder, latent_dim: int, image_size: int) -> onnx.ModelProto:
    """image uint8 [N, S, S, 4] (as the decoder outputs) -> mean, logvar float32 [N, latent].

    Optional, for hosts that turn a given sprite into variants; engines that only generate
    never need it, so it may use ops beyond the decoder's short list.
    """
    b = _Builder()
    h = b.node("Cast", ["image"], to=TensorProto.FLOAT)
    h = b.node("Transpose", [h], perm=[0, 3, 1, 2])
    # The trainer feeds x * 2 - 1 for x in [0, 1].
    h = b.node("Mul", [h, b.const("scale", np.array(2.0 / 255.0, np.float32))])
    h = b.node("Add", [h, b.const("shift", np.array(-1.0, np.float32))])
    for i, layer in enumerate(encoder.features):
        if isinstance(layer, nn.Conv2d):
            k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
            h = b.node("Conv", [h, b.const(f"conv{i}.weight", _f32(layer.weight)), b.const(f"conv{i}.bias", _f32(layer.bias))],
                       kernel_shape=[k, k], pads=[p, p, p, p], strides=[s, s])
        elif isinstance(layer, nn.GroupNorm):
            h = _group_norm(b, h, layer, i)
        elif isinstance(layer, nn.LeakyReLU):
            h = b.node("LeakyRelu", [h], alpha=float(layer.negative_slope))
        else:
            raise ValueError(f"encoder layer {layer.__class__.__name__} has no ONNX mapping")
    flat = encoder.head.in_features
    h = b.node("Reshape", [h, b.const("flat_shape", np.array([-1, flat], np.int64))])
    w, bias = _f32(encoder.head.weight), _f32(encoder.head.bias)
    b.node("Gemm", [h, b.const("mean.weight", w[:latent_dim]), b.const("mean.bias", bias[:latent_dim])],
           output="mean", transB=1)
    logvar = b.node("Gemm", [h, b.const("logvar.weight", w[latent_dim:]), b.const("logvar.bias", bias[latent_dim:])],
                    transB=1)
    b.node("Clip", [logvar, b.const("lv_min", np.array(-12.0, np.float32)), b.const("lv_max", np.array(8.0, np.float32))],
           output="logvar")
    graph = helper.make_graph(
        b.nodes, "assetvae_encoder",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", image_size, image_size, 4])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", latent_dim]),
         helper.make_tensor_value_info("logvar", TensorProto.FLOAT, ["N", latent_dim])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="assetvae")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
