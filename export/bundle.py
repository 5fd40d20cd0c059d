"""Export a trained run as a bundle: decoder graph + manifest, parity-checked, written
atomically."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from .. import __version__
from ..errors import ExportError
from ..model import VAE, to_uint8
from ..plugin_api.bundle import encoder_path, sidecar_path
from ..plugin_api.fileio import atomic_write_bytes, atomic_write_text
from ..plugin_api.layout import OutputLayout, to_uint8_nhwc
from ..plugin_api.manifest import METADATA_KEY, Manifest
from ..rundir import RunDir
from .fp16 import PARITY_LIMIT as FP16_LIMIT
from .fp16 import decoder_graph_fp16
from .graph import OPSET, decoder_graph, encoder_graph

PARITY_SAMPLES = 64
PARITY_LIMIT = 1  # largest allowed pixel difference (out of 255) between torch and ONNX Runtime


@dataclass
class ExportReport:
    path: Path
    manifest: Manifest
    parity_max_abs: int
    parity_samples: int
    size_bytes: int


def _session(model: onnx.ModelProto, provider: str = "CPUExecutionProvider"):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=[provider])


def fp16_parity(
    graph32: onnx.ModelProto, graph16: onnx.ModelProto, z: np.ndarray, layout: OutputLayout
) -> tuple[int, str]:
    """(largest pixel difference between the float16 and float32 graphs on z, the ONNX Runtime
    provider that ran the float16 graph: CUDA where there is one, as engines will run it)."""
    import onnxruntime as ort

    provider = next(
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in ort.get_available_providers()
    )
    ref = to_uint8_nhwc(_session(graph32).run(["image"], {"z": z})[0], layout)
    session = _session(graph16, provider)
    got = to_uint8_nhwc(session.run(["image"], {"z": z})[0], layout)
    err = int(np.abs(got.astype(np.int16) - ref.astype(np.int16)).max())
    return err, session.get_providers()[0]


def parity_check(
    decoder: torch.nn.Module, model: onnx.ModelProto, z: np.ndarray, layout: OutputLayout
) -> int:
    """Largest absolute pixel difference (0..255) between torch and ONNX Runtime on z."""
    with torch.no_grad():
        ref = to_uint8(decoder.display(torch.from_numpy(z)))
    got = to_uint8_nhwc(_session(model).run(["image"], {"z": z})[0], layout)
    return int(np.abs(got.astype(np.int16) - ref.astype(np.int16)).max())


def encoder_parity(
    vae: VAE, enc: onnx.ModelProto, dec: onnx.ModelProto, latent_dim: int, layout: OutputLayout
) -> float:
    """Largest |mean difference| between torch and ONNX Runtime encoders on decoded sprites."""
    z = np.random.default_rng(1).standard_normal((16, latent_dim)).astype(np.float32)
    # The encoder takes uint8 NHWC whatever the decoder's layout.
    images = to_uint8_nhwc(_session(dec).run(["image"], {"z": z})[0], layout)
    got = _session(enc).run(["mean"], {"image": images})[0]
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        ref = vae.encoder.from_display(x).mean.numpy()
    return float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def export_bundle(
    run_dir: str | Path,
    out: str | Path,
    sidecar: bool = False,
    output: OutputLayout | str = OutputLayout.UINT8_NHWC,
    encoder: bool = False,
    fp16: bool = False,
) -> ExportReport:
    """Write RUN_DIR's decoder and class model to OUT as one ONNX file.

    sidecar: also the manifest as NAME.avae.json. encoder: also the encoder as
    NAME.avae.encoder.onnx (for variants of a given sprite); the manifest pairs it by hash.
    fp16: the decoder in float16 (export/fp16.py), refused unless its pixels stay within 2
    levels of the float32 graph's on the parity latents.
    """
    run, out, layout = RunDir(run_dir), Path(out), OutputLayout(output)
    state = run.load_checkpoint(for_resume=False)
    cfg = state["config"]
    classes = run.read_class_model(cfg.model.latent_dim)
    vae = VAE(cfg.model)
    vae.load_state_dict(state["model"])
    vae.eval()

    # Parity on realistic latents (class samples at spread 0..1.5) and on prior draws.
    rng = np.random.default_rng(0)
    zs = []
    for i in range(PARITY_SAMPLES):
        c = classes[i % len(classes)]
        if i % 2:
            zs.append(
                c.centroid + (i % 4) * 0.5 * c.chol @ rng.standard_normal(cfg.model.latent_dim)
            )
        else:
            zs.append(rng.standard_normal(cfg.model.latent_dim))
    z = np.asarray(zs, np.float32)

    graph = decoder_graph(vae.decoder, cfg.model.latent_dim, vae.display_size, layout)
    max_err = parity_check(vae.decoder, graph, z, layout)
    if max_err > PARITY_LIMIT:
        raise ExportError(
            f"exported graph differs from the torch decoder by {max_err} levels "
            f"(limit {PARITY_LIMIT}); the bundle was not written"
        )
    precision = {}
    if fp16:
        half = decoder_graph_fp16(vae.decoder, cfg.model.latent_dim, vae.display_size, layout)
        err16, provider = fp16_parity(graph, half, z, layout)
        if err16 > FP16_LIMIT:
            raise ExportError(
                f"the float16 decoder differs from the float32 one by {err16} levels "
                f"(limit {FP16_LIMIT}, run on {provider}); export without --fp16"
            )
        graph = half
        precision = {
            "precision": "float16",
            "fp16_parity_max_abs_error": err16,
            "fp16_parity_provider": provider,
        }
    encoder_data = None
    if encoder:
        enc = encoder_graph(vae.encoder, cfg.model.latent_dim, vae.display_size)
        enc_err = encoder_parity(vae, enc, graph, cfg.model.latent_dim, layout)
        if enc_err > 1e-3:
            raise ExportError(
                f"exported encoder differs from torch by {enc_err:.2g}; the bundle was not written"
            )
        encoder_data = enc.SerializeToString()
    # Wall-clock figures stay in metrics.jsonl: without them, the same training exports the
    # same bytes, so build pipelines can cache and compare bundles.
    metrics = {
        k: v for k, v in state.get("metrics", {}).items() if k not in ("images_per_s", "elapsed_s")
    }
    manifest = Manifest(
        image_size=vae.display_size,
        latent_dim=cfg.model.latent_dim,
        classes=classes,
        output=layout,
        training={
            "dataset_fingerprint": state.get("dataset_fingerprint"),
            "epochs": state["epoch"],
            "final_metrics": metrics,
            "config": cfg.to_dict(),
        },
        export={
            "parity_max_abs_error": max_err,
            "parity_samples": PARITY_SAMPLES,
            "opset": OPSET,
            "assetvae_version": __version__,
            "torch_version": torch.__version__.split("+")[0],
            **precision,
        },
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
