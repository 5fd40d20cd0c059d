"""The decoder in half precision: a bundle option for GPUs (fp16 weights, half the file, and
tensor-core convolutions under ONNX Runtime's CUDA provider).

The bundle's contract does not change: input ``z`` is float32, the output is the layout's
(uint8 NHWC or float32 NCHW). Inside, ``z`` is cast to float16, the decoder's blocks run in
float16 with float16 weights, and the logits are cast back to float32 before the colour head
and the output tail, so sigmoid (or palette pick), x255, rounding and clipping are float32 as
in every bundle. Only Cast nodes are
added (an allowed operator). The export accepts the graph only when its pixels stay within
PARITY_LIMIT levels of the float32 graph's on the export's parity latents.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..plugin_api.layout import OutputLayout
from .graph import GraphBuilder, output_tail

PARITY_LIMIT = 2  # largest allowed pixel difference (of 255) from the float32 graph
# Inputs that stay float32 whatever the data type: Resize's roi and scales.
_FLOAT32_INPUTS = {"Resize": (1, 2)}


def decoder_graph_fp16(
    decoder, latent_dim: int, image_size: int, layout: OutputLayout = OutputLayout.UINT8_NHWC
) -> onnx.ModelProto:
    """decoder_graph's contract (z float32 in, the layout's output out), computed in float16."""
    g = GraphBuilder()
    z16 = g.node("Cast", ["z"], to=TensorProto.FLOAT16)
    first = len(g.nodes)
    logits = decoder.onnx(g, z16)
    half = g.nodes[first:]  # the decoder's own nodes: these run in float16
    colour = decoder.onnx_image(g, g.node("Cast", [logits], to=TensorProto.FLOAT))
    out = output_tail(g, colour, layout, image_size)
    rest = g.nodes[:first] + g.nodes[first + len(half) :]

    inits = {t.name: t for t in g.inits}
    used_by_rest = {name for n in rest for name in n.input}
    halves: dict[str, str] = {}  # float32 initializer -> its float16 copy
    for node in half:
        keep = _FLOAT32_INPUTS.get(node.op_type, ())
        for i, name in enumerate(node.input):
            t = inits.get(name)
            if t is None or t.data_type != TensorProto.FLOAT or i in keep:
                continue
            if name not in halves:
                value = numpy_helper.to_array(t).astype(np.float16)
                if name in used_by_rest:  # shared with the float32 tail: a copy of its own
                    halves[name] = g.const(value, "fp16")
                else:
                    t.CopyFrom(numpy_helper.from_array(value, name))
                    halves[name] = name
            node.input[i] = halves[name]
        for a in node.attribute:  # a Cast inside the decoder keeps the decoder in float16
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent_dim])
    return g.model("assetvae_decoder_fp16", [z], [out])
