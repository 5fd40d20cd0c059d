"""Output layouts: what the bundle's graph output ``image`` holds, how the graph makes it,
and how it becomes uint8 RGBA.

A new layout is a change to this module alone: a member of the enum, its graph output in
:func:`graph_output`, the nodes that make it in :func:`emit_output` and its rule in
:func:`to_uint8_nhwc`; the manifest, the exporter, the graph check and the Generator follow.
"""

from __future__ import annotations

from enum import Enum

import numpy as np


class OutputLayout(str, Enum):
    """The manifest's ``output`` field. The values are the strings written in the JSON."""

    UINT8_NHWC = "uint8_nhwc"  # uint8 [N, H, W, C], straight alpha: ready to upload as a texture
    FLOAT32_NCHW = "float32_nchw"  # float32 [N, C, H, W] in [0, 1], for engines without uint8

    def __str__(self) -> str:  # the JSON value in messages and f-strings, on every Python
        return self.value

    __format__ = str.__format__


def graph_output(layout: OutputLayout, size: int, channels: int) -> tuple[list[int], str]:
    """(dimensions after N, ONNX element type) of the graph output ``image`` in this layout."""
    if OutputLayout(layout) is OutputLayout.UINT8_NHWC:
        return [size, size, channels], "tensor(uint8)"
    return [channels, size, size], "tensor(float)"


UINT8 = 2  # onnx.TensorProto.UINT8 (the runtime does not import onnx)


def emit_output(layout: OutputLayout, g, colour: str) -> None:
    """Write the nodes that turn the decoder's RGBA in [0, 1] (float [N, 4, H, W]) into the
    graph output ``image`` of this layout, through the exporter's graph builder ``g``
    (``g.node``, ``g.scalar``). DESIGN.md: scaling, rounding, clamping and the transpose live
    inside the graph, with only the operators every engine runtime loads."""
    if OutputLayout(layout) is OutputLayout.FLOAT32_NCHW:  # [0, 1] whatever rounding did
        g.node("Clip", [colour, g.scalar(0.0), g.scalar(1.0)], output="image")
        return
    h = g.node("Mul", [colour, g.scalar(255.0)])
    h = g.node("Round", [h])  # half to even, as torch.round and numpy's rint
    h = g.node("Clip", [h, g.scalar(0.0), g.scalar(255.0)])
    h = g.node("Cast", [h], to=UINT8)
    g.node("Transpose", [h], output="image", perm=[0, 2, 3, 1])


def to_uint8_nhwc(raw: np.ndarray, layout: OutputLayout) -> np.ndarray:
    """The graph's output ``image`` as uint8 [N, H, W, C] straight-alpha RGBA.

    uint8 NHWC passes through; float32 NCHW in [0, 1] is scaled by 255, rounded half to even
    (as the graph's Round does), clipped and transposed.
    """
    if OutputLayout(layout) is OutputLayout.UINT8_NHWC:
        return np.asarray(raw, dtype=np.uint8)
    img = np.clip(np.rint(np.asarray(raw) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img.transpose(0, 2, 3, 1))
