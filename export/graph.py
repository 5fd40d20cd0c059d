"""ONNX graphs from the model's own blocks, through a small graph builder.

Each model block writes its own nodes (``onnx(g, x)`` in assetvae/model.py); this module
holds the builder they write through, the bundle's output tail for each output layout, and
the checks. Why not torch.onnx.export: the TorchScript exporter is deprecated since PyTorch
2.9 and the torch.export-based one targets newer opsets with a less predictable node set.
Engine runtimes lag (Unity Sentis: opsets 7-15; Unreal's GPU runtime lacks many ops), so the
decoder stays opset 13 and uses only ALLOWED_OPS, and the parity check at export proves the
graph matches torch.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..plugin_api.layout import OutputLayout, emit_output, graph_output

OPSET = 13
IR_VERSION = 8  # readable by ONNX Runtime >= 1.10 and engine runtimes of that age
# What every engine runtime loads (shared/DESIGN.md); a test checks decoders against it.
ALLOWED_OPS = frozenset(
    {
        "Gemm",
        "MatMul",
        "Conv",
        "ConvTranspose",
        "Resize",
        "Relu",
        "LeakyRelu",
        "Sigmoid",
        "Add",
        "Mul",
        "Reshape",
        "Transpose",
        "Round",
        "Clip",
        "Cast",
        "DepthToSpace",
        "Concat",
        "Softmax",
        "Tanh",
        "Pad",
        "Slice",
        "InstanceNormalization",
    }
)


class GraphBuilder:
    """Collects nodes and initialisers; names are made unique by a running count."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._count = 0
        self._scalars: dict[float, str] = {}

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: np.ndarray, stem: str = "const") -> str:
        name = self._name(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def scalar(self, value: float) -> str:
        """A float32 scalar constant, shared by every node that uses the same value."""
        if value not in self._scalars:
            self._scalars[value] = self.const(np.array(value, np.float32), "scalar")
        return self._scalars[value]

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        out = output or self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self._name(op), **attrs))
        return out

    # --- the handful of layer shapes the blocks need -------------------------------------
    def gemm(self, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """x @ weight.T + bias (torch's Linear)."""
        return self.node(
            "Gemm", [x, self.const(weight, "weight"), self.const(bias, "bias")], transB=1
        )

    def conv(
        self, x: str, weight: np.ndarray, bias: np.ndarray, stride: int = 1, pad: int = 0
    ) -> str:
        k = weight.shape[-1]
        return self.node(
            "Conv",
            [x, self.const(weight, "weight"), self.const(bias, "bias")],
            kernel_shape=[k, k],
            pads=[pad] * 4,
            strides=[stride, stride],
        )

    def reshape(self, x: str, shape: list[int]) -> str:
        return self.node("Reshape", [x, self.const(np.array(shape, np.int64), "shape")])

    def upsample_nearest(self, x: str, factor: int) -> str:
        # asymmetric + floor reproduces torch's nearest upsampling exactly.
        scales = self.const(np.array([1, 1, factor, factor], np.float32), "scales")
        return self.node(
            "Resize",
            [x, "", scales],
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )

    def downsample_nearest(self, x: str, factor: int) -> str:
        """Every factor-th pixel (asymmetric + floor picks index i * factor, as x[::factor])."""
        scales = self.const(np.array([1, 1, 1 / factor, 1 / factor], np.float32), "scales")
        return self.node(
            "Resize",
            [x, "", scales],
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )

    def group_norm(
        self, x: str, groups: int, weight: np.ndarray, bias: np.ndarray, eps: float, size: int
    ) -> str:
        """GroupNorm as InstanceNormalization over [N, groups, rest] (opset 13 has no
        GroupNormalization), reshaped back with constant shapes, then the per-channel affine."""
        c = weight.shape[0]
        h = self.reshape(x, [0, groups, -1])
        h = self.node(
            "InstanceNormalization",
            [
                h,
                self.const(np.ones(groups, np.float32), "gn_scale"),
                self.const(np.zeros(groups, np.float32), "gn_bias"),
            ],
            epsilon=float(eps),
        )
        h = self.reshape(h, [0, c, size, size])
        h = self.node("Mul", [h, self.const(weight.reshape(c, 1, 1), "gn_weight")])
        return self.node("Add", [h, self.const(bias.reshape(c, 1, 1), "gn_bias")])

    def model(
        self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]
    ) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.inits)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="assetvae"
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def output_tail(
    g: GraphBuilder, colour: str, layout: OutputLayout, size: int
) -> onnx.ValueInfoProto:
    """RGBA in [0, 1] -> the bundle's output tensor ``image``: the layout module writes the
    nodes and says the output's type and shape."""
    emit_output(layout, g, colour)
    dims, ort_type = graph_output(layout, size, 4)
    elem = TensorProto.DataType.Value(ort_type.removeprefix("tensor(").removesuffix(")").upper())
    return helper.make_tensor_value_info("image", elem, ["N", *dims])


def decoder_graph(
    decoder, latent_dim: int, image_size: int, layout: OutputLayout = OutputLayout.UINT8_NHWC
) -> onnx.ModelProto:
    """z float32 [N, latent] -> image (uint8 [N, S, S, 4], or float32 [N, 4, S, S] in [0, 1])."""
    g = GraphBuilder()
    out = output_tail(g, decoder.onnx_image(g, decoder.onnx(g, "z")), layout, image_size)
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent_dim])
    return g.model("assetvae_decoder", [z], [out])


def encoder_graph(encoder, latent_dim: int, image_size: int) -> onnx.ModelProto:
    """image uint8 [N, S, S, 4] (as the decoder outputs) -> mean, logvar float32 [N, latent].

    Optional, for hosts that turn a given sprite into variants; engines that only generate
    never need it.
    """
    g = GraphBuilder()
    h = g.node("Transpose", [g.node("Cast", ["image"], to=TensorProto.FLOAT)], perm=[0, 3, 1, 2])
    h = g.node("Mul", [h, g.scalar(1.0 / 255.0)])
    mean, logvar = encoder.onnx(g, h)
    g.node("Identity", [mean], output="mean")
    g.node("Identity", [logvar], output="logvar")
    image = helper.make_tensor_value_info(
        "image", TensorProto.UINT8, ["N", image_size, image_size, 4]
    )
    outs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", latent_dim])
        for n in ("mean", "logvar")
    ]
    return g.model("assetvae_encoder", [image], outs)
