"""Export a trained run as a bundle: decoder graph + manifest, parity-checked, written atomically."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from .. import __version__
from ..checkpoint import CLASS_MODEL, load_checkpoint
from ..errors import CheckpointError
from ..model import VAE
from ..plugin_api.bundle import encoder_path, sidecar_path
from ..plugin_api.errors import AssetVAEError, BundleError
from ..plugin_api.fileio import atomic_write_bytes, atomic_write_text
from ..plugin_api.manifest import METADATA_KEY, ClassLatent, Manifest, class_from_dict
from .onnx_graph import OPSET, decoder_graph, encoder_graph

PARITY_SAMPLES = 64
PARITY_LIMIT = 1  # largest allowed pixel difference (out of 255) between torch and ONNX Runtime


class ExportError(AssetVAEError):
    """The exported graph does not reproduce the torch decoder."""


@dataclass
class ExportReport:
    path: Path
    manifest: Manifest
    parity_max_abs: int
    parity_samples: int
    size_bytes: int


def load_class_model(run_dir: Path, latent_dim: int) -> list[ClassLatent]:
    """The run's class_model.json, validated by the manifest's own class parser."""
    path = run_dir / CLASS_MODEL
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the run has not finished (assetvae train --resume {run_dir})")
    try:
        rows = json.loads(path.read_text(), parse_constant=_no_constant)
        if not isinstance(rows, list) or not rows:
            raise ValueError("no classes")
        return [class_from_dict(r, latent_dim, i) for i, r in enumerate(rows)]
    except (ValueError, BundleError) as e:
        # The manifest parser's wording speaks of bundles; here the file is a run's class model.
        why = str(e).removeprefix("bad bundle manifest: ").removesuffix("; re-export the bundle")
        raise CheckpointError(f"{path}: damaged class model ({why}); run assetvae train --resume {run_dir}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} in the file")


def parity_check(decoder: torch.nn.Module, model: onnx.ModelProto, z: np.ndarray, output: str) -> int:
    """Largest absolute pixel difference (0..255) between torch and ONNX Runtime on z."""
    import onnxruntime as ort

    with torch.no_grad():
        ref = torch.sigmoid(decoder(torch.from_numpy(z)))
        ref = (ref * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(["image"], {"z": z})[0]
    if output == "float32_nchw":
        got = np.clip(np.rint(got * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return int(np.abs(got.astype(np.int16) - ref.astype(np.int16)).max())


def encoder_parity(vae: VAE, enc: onnx.ModelProto, dec: onnx.ModelProto, latent_dim: int) -> float:
    """Largest |mean difference| between torch and ONNX Runtime encoders on decoded sprites."""
    import onnxruntime as ort

    z = np.random.default_rng(1).standard_normal((16, latent_dim)).astype(np.float32)
    images = ort.InferenceSession(dec.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
    if images.dtype != np.uint8:  # a float32 NCHW bundle: the encoder still takes uint8 NHWC
        images = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    got = ort.InferenceSession(enc.SerializeToString(), providers=["CPUExecutionProvider"]).run(["mean"], {"image": images})[0]
    with torch.no_grad():
        ref = vae.encode(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).mean.numpy()
    return float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def export_bundle(run_dir: str | Path, out: str | Path, sidecar: bool = False,
                  output: str = "uint8_nhwc", encoder: bool = False) -> ExportReport:
    """Write RUN_DIR's decoder and class model to OUT as one ONNX file.

    sidecar: also the manifest as NAME.avae.json. encoder: also the encoder as
    NAME.avae.encoder.onnx (for variants of a given sprite); the manifest pairs it by hash.
    """
    run_dir, out = Path(run_dir), Path(out)
    state = load_checkpoint(run_dir)
    cfg = state["config"]
    classes = load_class_model(run_dir, cfg.model.latent_dim)
    vae = VAE(cfg.model)
    vae.load_state_dict(state["model"])
    vae.eval()

    # Parity on realistic latents (class samples at spread 0..1.5) and on prior draws.
    rng = np.random.default_rng(0)
    zs = []
    for i in range(PARITY_SAMPLES):
        c = classes[i % len(classes)]
        if i % 2:
            zs.append(c.centroid + (i % 4) * 0.5 * c.chol @ rng.standard_normal(cfg.model.latent_dim))
        else:
            zs.append(rng.standard_normal(cfg.model.latent_dim))
    z = np.asarray(zs, np.float32)

    graph = decoder_graph(vae.decoder, cfg.model.latent_dim, cfg.model.image_size, output)
    max_err = parity_check(vae.decoder, graph, z, output)
    if max_err > PARITY_LIMIT:
        raise ExportError(f"exported graph differs from the torch decoder by {max_err} levels "
                          f"(limit {PARITY_LIMIT}); the bundle was not written")
    encoder_data = None
    if encoder:
        enc = encoder_graph(vae.encoder, cfg.model.latent_dim, cfg.model.image_size)
        enc_err = encoder_parity(vae, enc, graph, cfg.model.latent_dim)
        if enc_err > 1e-3:
            raise ExportError(f"exported encoder differs from torch by {enc_err:.2g}; the bundle was not written")
        encoder_data = enc.SerializeToString()
    # Wall-clock figures stay in metrics.jsonl: without them, the same training exports the
    # same bytes, so build pipelines can cache and compare bundles.
    metrics = {k: v for k, v in state.get("metrics", {}).items() if k not in ("images_per_s", "elapsed_s")}
    manifest = Manifest(
        image_size=cfg.model.image_size, latent_dim=cfg.model.latent_dim, classes=classes, output=output,
        training={"dataset_fingerprint": state.get("dataset_fingerprint"), "epochs": state["epoch"],
                  "final_metrics": metrics, "config": cfg.to_dict()},
        export={"parity_max_abs_error": max_err, "parity_samples": PARITY_SAMPLES, "opset": OPSET,
                "assetvae_version": __version__, "torch_version": torch.__version__.split("+")[0]},
        encoder_sha256=hashlib.sha256(encoder_data).hexdigest() if encoder_data else None,
    )
    text = manifest.to_json()
    Manifest.from_json(text)  # the runtime's own validation: never write what it would refuse
    onnx.helper.set_model_props(graph, {METADATA_KEY: text})
    data = graph.SerializeToString()
    if encoder_data:  # the encoder first: a bundle never names an encoder that is not there
        atomic_write_bytes(encoder_path(out), encoder_data)
    atomic_write_bytes(out, data)
    if sidecar:
        manifest.graph_sha256 = hashlib.sha256(data).hexdigest()
        atomic_write_text(sidecar_path(out), manifest.to_json())
    return ExportReport(out, manifest, max_err, PARITY_SAMPLES, len(data))
