"""The `assetvae` command line. Each command parses, calls one library function, and prints.

User errors are typed exceptions in the library; they become one-line messages and exit
code 2 here, in one place (``_Group.invoke``). Torch is imported only by the commands that
train or export, so the runtime commands start fast.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import click
import numpy as np

from .config import (
    ALPHA_MARGIN,
    AMP_MODES,
    AUTO,
    DEFAULT_EXEMPLAR_SCALE,
    LR_SCHEDULES,
    PAINTED_ADV,
    PAINTED_FAKES,
    PAINTED_MIN_SIZE,
    PAINTED_NOISE,
    PAINTED_SWD,
    PIXEL_EXEMPLAR_SCALE,
    ModelConfig,
    TrainConfig,
)
from .plugin_api.errors import AssetVAEError, SamplingError

_M, _T = ModelConfig(), TrainConfig()  # option defaults come from the config dataclasses

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
MAX_SHEET = 1024  # variants per class on a sample sheet


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        warnings.showwarning = _one_line_warning
        try:
            return super().invoke(ctx)
        except AssetVAEError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as e:
            # Disk full, permission denied, read-only folder: the user's to fix, not a bug.
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror or e}", err=True)
            ctx.exit(EXIT_USER_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assetvae")
def main() -> None:
    """Train a VAE on your sprite folders, export a bundle, generate reproducible variants."""


@main.command("demo-data")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--style",
    type=click.Choice(["plants", "pixel"]),
    default="plants",
    show_default=True,
    help="plants: 8 painted plant classes; pixel: 8 classes of 16-px pixel-art items.",
)
@click.option("--per-class", default=32, show_default=True, help="Images per class.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--size",
    type=int,
    default=None,
    help="Sprite size in pixels [default: 64 for plants, 16 for pixel; pixel sizes are "
    "multiples of 16, upscaled by nearest neighbour].",
)
def demo_data(out: Path, style: str, per_class: int, seed: int, size: int | None) -> None:
    """Write a built-in procedural demo set as an asset folder."""
    from .datasets.demo import write_demo_folder

    try:
        counts = write_demo_folder(out, per_class=per_class, seed=seed, size=size, style=style)
    except (FileExistsError, ValueError) as e:
        raise AssetVAEError(str(e)) from None
    click.echo(f"wrote {sum(counts.values())} images in {len(counts)} classes to {out}")


class _TrainCommand(click.Command):
    """`train`, with the options that come from registries: --arch (assetvae/model.py),
    --recon and one --NAME-weight per loss term (assetvae/losses.py).

    The registries import torch, so these options are added only when `train` itself parses
    its arguments or shows its help; the runtime commands never pay for it.
    """

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not getattr(self, "_terms_added", False):
            from .losses import RECON, TERMS
            from .model import ARCHITECTURES

            self.params.append(
                click.Option(
                    ["--arch"],
                    type=click.Choice(list(ARCHITECTURES)),
                    default=_M.arch,
                    show_default=True,
                    help="Network: plain (GroupNorm + SiLU, the default), conv (the earlier one), "
                    "res (residual blocks at 4 and 8 px, half-width top level) or "
                    "res-subpixel (the same with DepthToSpace upsampling).",
                )
            )
            self.params.append(
                click.Option(
                    ["--recon"],
                    type=click.Choice([n for n in RECON if n != "palette"]),  # --palette's
                    default=_T.recon,
                    show_default=True,
                    help="Reconstruction loss.",
                )
            )
            for t in TERMS.values():
                auto = t.name == "swd"  # decided from the data (train.resolve_texture)
                self.params.append(
                    click.Option(
                        [f"--{t.name}-weight", f"weight__{t.name.replace('-', '_')}"],
                        type=float,
                        default=None if auto else t.default,
                        show_default=not auto,
                        help=t.help
                        + (f" [default: {PAINTED_SWD:g} for painted art, else 0]" if auto else ""),
                    )
                )
            self._terms_added = True
        return super().get_params(ctx)


@main.command(cls=_TrainCommand)
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory to create.",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue the run in this directory.",
)
@click.option(
    "--size", default=_M.image_size, show_default=True, help="Image size: 16, 32, 64 or 128."
)
@click.option(
    "--latent",
    type=int,
    default=None,
    help="Latent size (default: 64 for pixel art on its native grid, else 32).",
)
@click.option(
    "--width",
    type=int,
    default=None,
    help="Channels at full resolution (default: 64 for pixel art on its native grid, else 32).",
)
@click.option(
    "--head-kernel",
    type=int,
    default=_M.head_kernel,
    show_default=True,
    help="Kernel of the decoder's last convolution, 1 or 3: 1 costs a palette decoder far "
    "less in the engine.",
)
@click.option("--epochs", default=_T.epochs, show_default=True)
@click.option(
    "--minutes",
    type=float,
    default=None,
    help="Stop after the epoch in which this much time has passed.",
)
@click.option("--batch", default=_T.batch_size, show_default=True)
@click.option("--lr", default=_T.lr, show_default=True, help="Learning rate.")
@click.option(
    "--weight-decay",
    type=float,
    default=_T.weight_decay,
    show_default=True,
    help="AdamW's decoupled weight decay on the conv and linear weights (0: Adam).",
)
@click.option(
    "--lr-schedule",
    type=click.Choice(LR_SCHEDULES),
    default=_T.lr_schedule,
    show_default=True,
    help="cosine (decays to a tenth) or constant.",
)
@click.option(
    "--ema",
    type=float,
    default=_T.ema,
    show_default=True,
    help="Make previews and the bundle from a moving average of the weights, decayed by this "
    "much per step (0.998 averages the last ~500 steps; 0: off).",
)
@click.option("--beta", default=_T.beta, show_default=True, help="KL weight.")
@click.option("--warmup", default=_T.warmup_epochs, show_default=True, help="KL warm-up epochs.")
@click.option(
    "--adv-weight",
    type=float,
    default=None,
    help="Weight of the patch-discriminator loss, relative to the reconstruction loss's "
    f"gradient at the decoder's last layer (more texture); 0 disables [default: {PAINTED_ADV:g} "
    f"for painted art at {PAINTED_MIN_SIZE} px and up, else 0].",
)
@click.option(
    "--adv-start",
    type=click.FloatRange(0, 1, max_open=True),
    default=_T.adv_start,
    show_default=True,
    help="Fraction of the run (epochs or --minutes) before the discriminator joins in.",
)
@click.option(
    "--sampled-fakes",
    type=float,
    default=None,
    help="Also show the critic this share of the batch as variants (latents drawn around each "
    "image's with its class's spread), beside the reconstructions; 0: off "
    f"[default: {PAINTED_FAKES:g} with the critic on painted art, else 0].",
)
@click.option(
    "--lecam-weight",
    type=float,
    default=_T.lecam_weight,
    show_default=True,
    help="LeCam regularisation of the critic: keeps its verdicts on real images and fakes "
    "from drifting apart on a small folder; 0: off.",
)
@click.option(
    "--feature-match",
    type=float,
    default=_T.feature_match,
    show_default=True,
    help="Weight of feature matching: each reconstruction's critic features pulled toward its "
    "target's, beside the critic's verdict; 0: off.",
)
@click.option(
    "--swd-start",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="Fraction of the run before the patch-SWD term joins in [default: --adv-start].",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True
)
@click.option("--val-fraction", default=_T.val_fraction, show_default=True)
@click.option(
    "--augment/--no-augment", default=None, help="Flips and shifts [default: on below 2000 images]."
)
@click.option(
    "--flip/--no-flip",
    default=None,
    help="Mirror images when augmenting [default: decided from the art].",
)
@click.option(
    "--pixel-art/--smooth",
    default=None,
    help="Nearest-neighbour resampling [default: only when upscaling].",
)
@click.option(
    "--crop/--no-crop", default=True, show_default=True, help="Crop sprites to their opaque area."
)
@click.option(
    "--native-grid/--no-native-grid",
    default=None,
    help="Train pixel art on its own pixel grid and upscale by nearest on export "
    "[default: when the data is pixel art drawn smaller than --size].",
)
@click.option(
    "--palette",
    type=click.IntRange(0, 256),
    default=None,
    help="Fit a palette of N colours (transparent included) and have the decoder pick one "
    "per pixel: exact colours, hard alpha; 0: RGBA output [default: 64 for pixel art "
    "trained on its native grid, else RGBA].",
)
@click.option(
    "--preview-every",
    default=_T.preview_every,
    show_default=True,
    help="Write preview sheets every N epochs (and after the last).",
)
@click.option(
    "--discover",
    type=int,
    default=None,
    help="Cluster the images into K styles (style_0..) instead of using folders.",
)
@click.option(
    "--noise", default=None, help="Denoising: corrupt inputs with salt-pepper:P or gaussian:SIGMA."
)
@click.option(
    "--exemplars",
    "exemplar_scale",
    default=str(_T.exemplar_scale),
    show_default=True,
    help="Sample around each training image's latent, varied by this fraction of the class "
    f"spread; 'off' samples each class's Gaussian (and --components) instead; 'auto': "
    f"{PIXEL_EXEMPLAR_SCALE:g} for pixel art on its native grid, else {DEFAULT_EXEMPLAR_SCALE:g}.",
)
@click.option(
    "--components",
    default="auto",
    show_default=True,
    help="Sub-clusters per class: auto (chosen per class), or a number (1 = none).",
)
@click.option(
    "--grid",
    default=None,
    metavar="WxH|auto",
    help="Cut every plain image into frames of WxH px (sprite sheets), or find grids "
    "between transparent gutters (auto). Atlas data files (TexturePacker or "
    "Aseprite JSON, .sprite, atlas.txt) beside images are always read.",
)
@click.option("--grid-margin", default=0, show_default=True, help="Px around a --grid sheet.")
@click.option("--grid-spacing", default=0, show_default=True, help="Px between --grid frames.")
@click.option(
    "--amp",
    type=click.Choice(AMP_MODES),
    default=_T.amp,
    show_default=True,
    help="Mixed precision: auto = bf16 where it is native and pays (CPUs with AVX512-BF16 or "
    "AMX; CUDA GPUs that have it, from batch 256 up), fp32 elsewhere.",
)
@click.option(
    "--channels-last/--no-channels-last",
    default=None,
    help="NHWC memory format [default: on with bf16 on a CPU].",
)
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="torch.compile the training forward (slow first steps; pays off on CUDA).",
)
@click.option(
    "--texture-noise",
    type=click.IntRange(0, 4),
    default=None,
    help="Per-pixel noise made from the latent at the decoder's top N levels (plain arch), so "
    "texture can vary per variant rather than sit at the same pixels of every sprite "
    f"[default: {PAINTED_NOISE} for painted art at {PAINTED_MIN_SIZE} px and up, else 0].",
)
@click.option(
    "--alpha-margin",
    type=click.FloatRange(0.0, 0.25),
    default=None,
    help="Stretch the alpha's sigmoid this far past 0 and 1, then clip, so sprites can be "
    "exactly transparent and exactly solid (0: the plain sigmoid, which never is) "
    f"[default: {ALPHA_MARGIN:g}, or 0 for art with a faint halo].",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(
    data,
    out,
    resume,
    size,
    latent,
    width,
    head_kernel,
    epochs,
    minutes,
    batch,
    lr,
    weight_decay,
    lr_schedule,
    ema,
    beta,
    warmup,
    adv_weight,
    adv_start,
    sampled_fakes,
    lecam_weight,
    feature_match,
    swd_start,
    seed,
    device,
    val_fraction,
    augment,
    flip,
    pixel_art,
    crop,
    native_grid,
    palette,
    preview_every,
    discover,
    noise,
    exemplar_scale,
    components,
    grid,
    grid_margin,
    grid_spacing,
    amp,
    channels_last,
    compile_,
    texture_noise,
    alpha_margin,
    quiet,
    arch,
    recon,
    **weights,
) -> None:
    """Train on DATA (one subfolder per class) into --out, or continue --resume RUN_DIR."""
    from .config import RunConfig
    from .losses import TERMS
    from .train import train as run_training

    if resume is None and (data is None or out is None):
        raise click.UsageError("give DATA and --out RUN_DIR, or --resume RUN_DIR")
    if resume is not None and out is not None and out != resume:
        raise click.UsageError("--out and --resume name different folders; give only --resume")
    loss_weights = {  # a term left at None (auto) is decided from the data
        t: w for t in TERMS if (w := weights[f"weight__{t.replace('-', '_')}"]) is not None
    }
    cfg = RunConfig(
        data=str(data) if data else "",
        model=ModelConfig(
            image_size=size,
            latent_dim=latent,
            width=width,
            max_width=max(128, width or 0),
            head_kernel=head_kernel,
            arch=arch,
            texture_noise=texture_noise,
            alpha_margin=alpha_margin,
        ),
        train=TrainConfig(
            epochs=epochs,
            batch_size=batch,
            lr=lr,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            ema=ema,
            beta=beta,
            warmup_epochs=warmup,
            recon=recon,
            loss_weights=loss_weights,
            adv_weight=adv_weight,
            adv_start=adv_start,
            sampled_fakes=sampled_fakes,
            lecam_weight=lecam_weight,
            feature_match=feature_match,
            swd_start=swd_start,
            seed=seed,
            device=device,
            val_fraction=val_fraction,
            augment=augment,
            flip=flip,
            pixel_art=pixel_art,
            crop=crop,
            native_grid=native_grid,
            palette=palette,
            preview_every=preview_every,
            time_budget_s=minutes * 60 if minutes else None,
            components=_components(components),
            noise=noise,
            discover=discover,
            exemplar_scale=_exemplars(exemplar_scale),
            grid=grid,
            grid_margin=grid_margin,
            grid_spacing=grid_spacing,
            amp=amp,
            channels_last=channels_last,
            compile=compile_,
        ),
    )
    result = run_training(
        cfg, resume or out, resume=resume is not None, progress=not quiet, log=click.echo
    )
    if result.rank != 0:  # one of torchrun's processes: rank 0 reports
        return
    click.echo(
        f"done: {result.epochs} epochs in {result.seconds:.0f} s; previews in "
        f"{result.run_dir / 'previews'}; next: assetvae export {result.run_dir} -o NAME.avae.onnx"
    )


@main.command("fit-classes")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--exemplars",
    "exemplar_scale",
    default=str(_T.exemplar_scale),
    show_default=True,
    help="As for train: a fraction of the class spread, 'off', or 'auto' (what the run's "
    "data gets).",
)
@click.option(
    "--components",
    default="auto",
    show_default=True,
    help="Sub-clusters per class: auto, or a number (1 = none).",
)
def fit_classes(run_dir: Path, exemplar_scale: str, components: str) -> None:
    """Re-fit a finished run's class latent model with other settings, without retraining."""
    from .classes import refit_classes

    classes = refit_classes(run_dir, _components(components), _exemplars(exemplar_scale))
    click.echo(
        f"fitted {len(classes)} classes in {run_dir}; next: assetvae export {run_dir} "
        "-o NAME.avae.onnx"
    )


@main.command("latent-map")
@click.argument("run_dir", type=click.Path(path_type=Path))
def latent_map(run_dir: Path) -> None:
    """Draw a run's latent map (coloured by class) and decoded manifold grid into previews/."""
    from .classes import latent_figures

    for path in latent_figures(run_dir):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write, e.g. plants.avae.onnx.",
)
@click.option("--sidecar", is_flag=True, help="Also write the manifest beside the bundle as JSON.")
@click.option(
    "--float-output", is_flag=True, help="Output float32 NCHW in [0, 1] instead of uint8 NHWC."
)
@click.option(
    "--encoder",
    is_flag=True,
    help="Also export the encoder (NAME.avae.encoder.onnx) for sample --like.",
)
@click.option(
    "--fp16",
    is_flag=True,
    help="Decoder weights and arithmetic in float16 (for GPUs; half the file); refused "
    "unless within 2 levels of float32 on the parity latents.",
)
def export(
    run_dir: Path, output: Path, sidecar: bool, float_output: bool, encoder: bool, fp16: bool
) -> None:
    """Export a trained run's decoder and class model as one ONNX bundle."""
    from .export.bundle import export_bundle
    from .plugin_api.layout import OutputLayout

    report = export_bundle(
        run_dir,
        output,
        sidecar=sidecar,
        encoder=encoder,
        fp16=fp16,
        output=OutputLayout.FLOAT32_NCHW if float_output else OutputLayout.UINT8_NHWC,
    )
    click.echo(
        f"wrote {output} ({report.size_bytes / 1024:.0f} KiB, "
        f"{len(report.manifest.classes)} classes, "
        f"parity max error {report.parity_max_abs} on {report.parity_samples} samples"
        + (
            f"; float16 within {report.manifest.export['fp16_parity_max_abs_error']} of float32"
            if fp16
            else ""
        )
        + ")"
    )


def _read_sprite(path: Path, size: int):
    """A user's sprite file through the training loader (modes, EXIF, bombs, damage handled)."""
    from .datasets.folder import LoadOptions, load_image

    return load_image(path, LoadOptions(size=size))


@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the restored images and a before|after sheet.",
)
def reconstruct(source: Path, images: tuple[Path, ...], output: Path) -> None:
    """Clean or restore IMAGES with a run directory or a bundle exported with --encoder."""
    from .plugin_api.images import labelled_grid, save_png, to_pil

    if source.is_dir():
        from .rundir import reconstruct_with_run

        size, restore = reconstruct_with_run(source)
    else:
        gen = _open_bundle(source, "auto")
        size, restore = gen.image_size, gen.reconstruct
    before = np.stack([_read_sprite(p, size) for p in images])
    after = restore(before)
    for p, im in zip(images, to_pil(after)):
        save_png(im, output / f"{p.stem}.png")
    pairs = np.stack([before, after], axis=1).reshape(-1, *before.shape[1:])
    save_png(labelled_grid([("before|after", pairs)], columns=8), output / "sheet.png")
    click.echo(f"wrote {len(images)} restored image(s) and sheet.png to {output}")


def _exemplars(value: str) -> float | str | None:
    if value == "off":
        return None
    if value == AUTO:
        return AUTO
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a number, 'off' or 'auto'", param_hint="--exemplars"
        ) from None


def _components(value: str) -> int | None:
    if value == "auto":
        return None
    if not value.isdigit():
        raise click.BadParameter(
            f"{value!r} is not 'auto' or a whole number", param_hint="--components"
        )
    return int(value)


def _open_bundle(bundle: Path, device: str):
    from .plugin_api import Generator

    return Generator.load(bundle, device=device)


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--class", "classes", multiple=True, help="Class to sample (repeatable) [default: all]."
)
@click.option(
    "-n",
    "n",
    default=16,
    show_default=True,
    help="Variants per class (at most 1024; bake for more).",
)
@click.option(
    "--spread", default=1.0, show_default=True, help="0 = prototype, 1 = the class's own variety."
)
@click.option("--seed", default=0, show_default=True, help="World seed (0 to 2**64-1).")
@click.option(
    "--truncation", type=float, default=None, help="Redraw normal draws beyond this magnitude."
)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--blend",
    "blends",
    multiple=True,
    metavar="A:B:T",
    help="Also a row of hybrids of classes A and B (T: 0 = A, 1 = B); repeatable.",
)
@click.option(
    "--like",
    "likes",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also a row of variants of this sprite (needs a bundle exported with --encoder); "
    "repeatable.",
)
@click.option("--scale", default=2, show_default=True, help="Pixel scale of the sheet.")
@click.option(
    "--animation",
    default=None,
    metavar="NAME",
    help="Animated variants playing this animation: OUTPUT as an animated PNG, the "
    "same as .gif, and NAME_frames.png with each variant's frames in a row.",
)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
def sample(
    bundle, classes, n, spread, seed, truncation, device, blends, likes, scale, animation, output
) -> None:
    """Write a labelled sheet of N variants per class from a bundle.

    Without --class and --blend, one row per class of the bundle. With --animation, the
    variants move (every class that has that animation, without --class).
    """
    from .plugin_api.atlas import parse_blend
    from .plugin_api.images import labelled_grid, save_png

    if animation is not None:
        if blends or likes:
            raise click.UsageError(
                "--animation makes animated variants of classes; leave out --blend and --like"
            )
        from .plugin_api.animated import write_animation_preview

        with _open_bundle(bundle, device) as gen:
            done = write_animation_preview(
                gen,
                output,
                animation,
                classes,
                n,
                seed=seed,
                spread=spread,
                truncation=truncation,
                scale=scale,
            )
        click.echo(
            f"wrote {', '.join(map(str, done.paths))}: {n} variants playing "
            f"{animation!r} ({done.frames} frames, {sum(done.durations)} ms a loop), "
            f"spread {spread}, seed {seed}"
        )
        return
    mixes = [parse_blend(b) for b in blends]  # syntax errors before the bundle is even opened
    if n < 0:
        raise SamplingError(f"n={n} is out of range: use 0 to {MAX_SHEET}")
    if n > MAX_SHEET:
        raise SamplingError(
            f"n={n} is too many for a sheet: use 0 to {MAX_SHEET} "
            "(assetvae bake writes atlases of any size)"
        )
    request = {"seed": seed, "spread": spread, "truncation": truncation}
    keys = range(n)
    with _open_bundle(bundle, device) as gen:
        names = list(classes) or ([] if mixes or likes else gen.classes)
        rows = [(c, gen.variants(c, keys, **request)) for c in names]
        rows += [(b.label, gen.blend(b.a, b.b, b.t, keys, **request)) for b in mixes]
        for path in likes:
            sprite = _read_sprite(path, gen.image_size)
            rows.append((f"~{path.stem}", gen.variants_like(sprite, keys, **request)))
        provider = gen.provider
    save_png(labelled_grid(rows, scale=scale, columns=min(n, 16)), output)
    click.echo(
        f"wrote {output}: {n} variants of {len(rows)} row(s), spread {spread}, seed {seed} "
        f"({provider})"
    )


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--class",
    "classes",
    multiple=True,
    help="Class to bake (repeatable) [default: all, unless --blend].",
)
@click.option(
    "--blend",
    "blends",
    multiple=True,
    metavar="A:B:T",
    help="Also bake hybrids of classes A and B (T: 0 = A, 1 = B); repeatable.",
)
@click.option(
    "-n",
    "n",
    default=16,
    show_default=True,
    help="Variants per class (keys FIRST-KEY .. FIRST-KEY+N-1).",
)
@click.option(
    "--first-key",
    default=0,
    show_default=True,
    help="First variant key: a key range is a shard, identical to those frames of a full bake.",
)
@click.option(
    "--spread", default=1.0, show_default=True, help="0 = prototype, 1 = the class's own variety."
)
@click.option("--seed", default=0, show_default=True, help="World seed (0 to 2**64-1).")
@click.option(
    "--truncation", type=float, default=None, help="Redraw normal draws beyond this magnitude."
)
@click.option("--padding", default=2, show_default=True, help="Pixels between frames.")
@click.option(
    "--extrude",
    default=1,
    show_default=True,
    help="Repeat each frame's edge pixels this many px around it "
    "(no bleeding under bilinear filtering).",
)
@click.option(
    "--max-size",
    default=2048,
    show_default=True,
    help="Largest page side in px; more pages when full.",
)
@click.option(
    "--trim/--no-trim", default=False, show_default=True, help="Crop frames to their opaque pixels."
)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--animation",
    "animations",
    multiple=True,
    metavar="NAME",
    help="Bake animated variants: every frame of this animation (repeatable; 'all': "
    "every animation), with Aseprite-style frameTags and durations in the JSON.",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Bake only shard I of N (I from 0) of the key range; join the N atlases with "
    "assetvae merge-shards.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Output name: writes NAME.png + NAME.json "
    "(NAME_0.png + NAME_0.json, ... for several pages).",
)
def bake(
    bundle,
    classes,
    blends,
    n,
    first_key,
    spread,
    seed,
    truncation,
    padding,
    extrude,
    max_size,
    trim,
    device,
    animations,
    shard,
    output,
) -> None:
    """Bake variants into an atlas: PNG page(s) + TexturePacker JSON (hash) frame data."""
    from .plugin_api.atlas import bake_atlas, parse_blend
    from .plugin_api.shards import bake_shard, parse_shard

    if animations:
        if blends or trim or shard is not None:
            raise click.UsageError(
                "--animation bakes animated variants of classes; leave out "
                "--blend, --trim and --shard"
            )
        from .plugin_api.animated import bake_animations

        with _open_bundle(bundle, device) as gen:
            result = bake_animations(
                gen,
                output,
                classes=classes,
                animations=() if "all" in animations else animations,
                n=n,
                first_key=first_key,
                seed=seed,
                spread=spread,
                truncation=truncation,
                padding=padding,
                extrude=extrude,
                max_size=max_size,
            )
        click.echo(
            f"wrote {result.frames} frames on {len(result.pages)} page(s): "
            + " ".join(str(p) for p in result.paths)
        )
        return
    mixes = [parse_blend(b) for b in blends]
    part = parse_shard(shard) if shard is not None else None
    with _open_bundle(bundle, device) as gen:
        options = dict(
            classes=classes,
            blends=mixes,
            n=n,
            first_key=first_key,
            seed=seed,
            spread=spread,
            truncation=truncation,
            padding=padding,
            extrude=extrude,
            max_size=max_size,
            trim=trim,
        )
        if part is None:
            result = bake_atlas(gen, output, **options)
        else:
            result = bake_shard(gen, output, part, **options)
    sizes = ", ".join(f"{w}x{h}" for w, h in result.pages)
    click.echo(
        f"wrote {result.frames} frames on {len(result.pages)} page(s) ({sizes}): "
        + " ".join(str(p) for p in result.paths)
    )


@main.command("merge-shards")
@click.argument("shards", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Output name, as for bake.",
)
def merge_shards(shards: tuple[Path, ...], output: Path) -> None:
    """Join the atlases of `bake --shard I/N` (their JSON files) into the atlas one bake writes."""
    from .plugin_api.shards import merge_shards as merge

    result = merge(shards, output)
    sizes = ", ".join(f"{w}x{h}" for w, h in result.pages)
    click.echo(
        f"wrote {result.frames} frames on {len(result.pages)} page(s) ({sizes}): "
        + " ".join(str(p) for p in result.paths)
    )


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
def inspect(bundle: Path, as_json: bool) -> None:
    """Show a bundle's classes, sizes, format version, training facts and parity error."""
    from .plugin_api.bundle import read_manifest

    m = read_manifest(bundle)
    info = {
        "bundle": str(bundle),
        "format": m.format,
        "version": m.version,
        "image_size": m.image_size,
        "latent_dim": m.latent_dim,
        "output": str(m.output),
        "rng": m.rng,
        "classes": {c.name: c.count for c in m.classes},
        "components": {c.name: len(c.components) for c in m.classes if c.components},
        "animations": {
            c.name: {a.name: a.frames for a in c.animations} for c in m.classes if c.animations
        },
        "training": {k: v for k, v in m.training.items() if k != "config"},
        "export": m.export,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(
        f"{bundle}: {m.format} v{m.version}, {m.image_size}x{m.image_size} RGBA, "
        f"latent {m.latent_dim}"
    )
    click.echo(
        f"classes ({len(m.classes)}): " + ", ".join(f"{c.name} ({c.count})" for c in m.classes)
    )
    for name, anims in info["animations"].items():
        click.echo(
            f"animations of {name} (frames): " + ", ".join(f"{a} ({f})" for a, f in anims.items())
        )
    for k, v in info["training"].items():
        click.echo(f"training.{k}: {v}")
    for k, v in m.export.items():
        click.echo(f"export.{k}: {v}")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--port", default=8765, show_default=True, help="Port on 127.0.0.1 (0: any free port)."
)
@click.option(
    "--out",
    "out_dir",
    default="bakes",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the page's bakes are written to.",
)
@click.option(
    "--ort",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of onnxruntime-web's WebAssembly build "
    "[default: node_modules/onnxruntime-web/dist].",
)
@click.option(
    "--open/--no-open",
    "open_browser",
    default=True,
    show_default=True,
    help="Open the page in the default browser.",
)
@click.option(
    "--seconds", type=float, default=None, help="Stop after this many seconds (for scripts)."
)
def studio(
    bundle: Path,
    port: int,
    out_dir: Path,
    ort: Path | None,
    open_browser: bool,
    seconds: float | None,
) -> None:
    """Explore a bundle in the browser: live variants, their (seed, key), snippets, bakes."""
    from .studio import make_server, serve

    server = make_server(bundle, port=port, out_dir=out_dir, ort=ort)
    click.echo(
        f"assetvae studio: {server.url}  (bundle {bundle}; bakes go to {out_dir}/; Ctrl-C stops)"
    )
    serve(server, open_browser=open_browser, seconds=seconds)


if __name__ == "__main__":
    sys.exit(main())
