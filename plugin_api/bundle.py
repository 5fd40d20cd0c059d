"""Opening a bundle: an ONNX Runtime session plus its validated manifest.

Loading a bundle runs nothing but the ONNX graph: the manifest is JSON, validated field by
field, and no string from it is ever used as a path.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import onnxruntime as ort

from .errors import BundleError, DeviceError
from .layout import graph_output
from .manifest import METADATA_KEY, Manifest

MAX_BUNDLE_BYTES = 2 * 1024**3  # protobuf's own limit; bigger is not a bundle we wrote


def sidecar_path(bundle: str | os.PathLike) -> Path:
    """NAME.avae.onnx -> NAME.avae.json (the optional manifest beside the bundle)."""
    bundle = Path(bundle)
    return bundle.with_name(bundle.name.removesuffix(".onnx") + ".json")


def encoder_path(bundle: str | os.PathLike) -> Path:
    """NAME.avae.onnx -> NAME.avae.encoder.onnx. Derived from the bundle's own path, never from
    manifest text, and paired with it by the manifest's encoder_sha256."""
    bundle = Path(bundle)
    return bundle.with_name(bundle.name.removesuffix(".onnx") + ".encoder.onnx")


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise BundleError(f"{path}: no such bundle file")
    if path.is_dir():
        raise BundleError(f"{path}: is a folder, not a bundle file")
    size = path.stat().st_size
    if size == 0:
        raise BundleError(f"{path}: empty file, not an assetvae bundle; re-export it")
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path}: {size} bytes is too large for an assetvae bundle")
    try:
        return path.read_bytes()
    except OSError as e:
        raise BundleError(f"{path}: cannot read ({e.strerror})") from None


def _sha256(data: bytes) -> str:
    import hashlib  # only sidecars and encoders are hashed: not on a plain bundle's load path

    return hashlib.sha256(data).hexdigest()


def providers_for(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise DeviceError(
                "device 'cuda' asked for, but this onnxruntime has no CUDA provider; "
                "install assetvae[gpu] (onnxruntime-gpu) or use device 'cpu'"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    raise DeviceError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'")


def open_session(
    data: bytes, path: Path, device: str = "auto", threads: int | None = None
) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # engines see our errors, not ORT's warnings
    if threads is not None:
        if (
            isinstance(threads, bool)
            or not isinstance(threads, numbers.Integral)
            or not 1 <= threads <= 1024
        ):
            raise DeviceError(
                f"threads={threads!r} is out of range: use 1 to 1024, or None for all cores"
            )
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=providers_for(device))
    except DeviceError:
        raise
    except Exception as e:  # ORT raises its own Fail/InvalidProtobuf/... types
        first = (str(e).strip().splitlines() or [e.__class__.__name__])[0][:160]
        raise BundleError(
            f"{path}: not a valid ONNX bundle ({first}); re-export it with assetvae export"
        ) from None
    if device == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
        # ORT falls back to the CPU, with only a log line, when CUDA or cuDNN cannot load.
        raise DeviceError(
            "device 'cuda' asked for, but ONNX Runtime's CUDA provider did not "
            "start (are the CUDA and cuDNN libraries that onnxruntime-gpu needs "
            "installed?); use device 'auto' or 'cpu'"
        )
    return session


def manifest_of(session: ort.InferenceSession, data: bytes, path: Path) -> Manifest:
    """The manifest from the graph's metadata, or from a sidecar JSON that names this graph."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY in meta:
        return _parse(meta[METADATA_KEY], path)
    side = sidecar_path(path)
    if side.is_file():
        m = _parse(side.read_bytes(), side)
        if m.graph_sha256 != _sha256(data):
            raise BundleError(
                f"{side}: this manifest belongs to another graph (hash mismatch); "
                f"keep each bundle with its own .json"
            )
        return m
    raise BundleError(
        f"{path}: an ONNX file, but not an assetvae bundle "
        f"(no '{METADATA_KEY}' metadata "
        f"and no {side.name} beside it)"
    )


def _parse(text: str | bytes, where: Path) -> Manifest:
    try:
        return Manifest.from_json(text)
    except BundleError as e:
        raise BundleError(f"{where}: {e}") from None  # say which file


def check_graph(session: ort.InferenceSession, m: Manifest, path: Path) -> None:
    """The manifest's shapes must agree with the graph's input and output."""
    ins, outs = session.get_inputs(), session.get_outputs()
    if len(ins) != 1 or ins[0].name != "z" or len(ins[0].shape) != 2:
        raise BundleError(f"{path}: graph input must be one tensor 'z' [N, latent]")
    if ins[0].shape[1] != m.latent_dim:
        raise BundleError(
            f"{path}: manifest says latent size {m.latent_dim} but the graph takes "
            f"{ins[0].shape[1]}; re-export the bundle"
        )
    if ins[0].type != "tensor(float)":
        raise BundleError(f"{path}: graph input 'z' must be float32, not {ins[0].type}")
    if not outs or outs[0].name != "image" or len(outs[0].shape) != 4:
        raise BundleError(f"{path}: graph output must be 'image' with 4 dimensions")
    want, want_type = graph_output(m.output, m.image_size, m.channels)
    if list(outs[0].shape[1:]) != want or outs[0].type != want_type:
        raise BundleError(
            f"{path}: manifest says {m.output} {want} but the graph gives "
            f"{outs[0].type} {outs[0].shape[1:]}; re-export the bundle"
        )


def open_bundle(
    path: str | os.PathLike, device: str = "auto", threads: int | None = None
) -> tuple[ort.InferenceSession, Manifest]:
    """The decoder session and the validated manifest of a bundle file.

    Raises BundleError (not a bundle, newer major version, manifest disagreeing with the
    graph) or DeviceError (a device or thread count this machine cannot give).
    """
    path = Path(path)
    data = _read_bytes(path)
    session = open_session(data, path, device=device, threads=threads)
    m = manifest_of(session, data, path)
    check_graph(session, m, path)
    return session, m


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Validate a bundle and return its manifest (CPU session; for inspection)."""
    return open_bundle(path, device="cpu", threads=1)[1]


def open_encoder(bundle: Path, m: Manifest, device: str = "cpu", threads: int | None = None):
    """The encoder session of a bundle exported with --encoder, checked against the manifest."""
    path = encoder_path(bundle)
    if m.encoder_sha256 is None:
        raise BundleError(
            f"{bundle}: exported without an encoder; re-export with assetvae export --encoder"
        )
    if not path.is_file():
        raise BundleError(
            f"{path}: missing; keep it beside {Path(bundle).name} "
            "(assetvae export --encoder writes it)"
        )
    data = _read_bytes(path)
    if _sha256(data) != m.encoder_sha256:
        raise BundleError(
            f"{path}: belongs to another bundle (hash mismatch); re-export both together"
        )
    return open_session(data, path, device=device, threads=threads)
