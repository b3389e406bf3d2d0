"""``python -m facecam_kit gpu-check``: every GPU claim of the kit, measured by one prepared command.

A lent GPU comes for minutes (about 15 in all, 10 a command) with nothing downloadable on it, so
the measurements are written here, run on the CPU at tiny sizes by the test suite (``--dry-run``),
and on a GPU run back to back in at most ``--budget`` seconds (8 minutes), with random weights
built from configurations:

1. ``render``: gsplat against the PyTorch rasteriser on the same proxy head and cameras (PSNR,
   ms per 480 px frame each) and the official condition path (render, MediaPipe, draw) per
   81-frame video (notebook 05);
2. ``step_wan22``, ``step_wan21``: one denoising step with CFG (two passes) in bf16 at full size,
   a Wan2.2-I2V-A14B expert at 81x704x480 with FaceCam's input layout and Wan2.1-1.3B with
   ReCamMaster's camera layers at 81x480x832: seconds, peak memory, achieved TFLOP/s against
   :mod:`facecam_kit.model.flops`, the projected 50 steps against their lower bound (notebook 06);
3. ``low_vram``: the same 14B expert in the FaceCam pipeline with model CPU offload and VAE
   tiling (``render --low-vram``): peak GPU memory and seconds per step;
4. ``train_plain``, ``train_fsdp2``: steps of Wan2.1-1.3B (ReCamMaster preset) at 81x480x832 in
   bf16 with activation checkpointing under the kit's trainer, as one plain process and under
   ``accelerate launch`` with ``configs/accelerate/fsdp2.yaml`` at world size 1;
5. ``mini``: FaceCam-mini at GPU size (``mini.recipe.GPU_RECIPE``) trained for a fixed number
   of minutes, and its generation time per clip;
6. ``render_job``: the main job, ``render`` on the bundled clip with the tiny random pipeline;
7. ``loader_write``, ``loader_read`` (if time is left): a random 14B expert written in the
   official key layout and read back through :mod:`facecam_kit.model.weights`.

Each stage runs in a process of its own, forked from a server that imported torch and diffusers
once, with its own time limit: a stage that raises, runs out of memory, crashes or hangs is
recorded with its error, and the next one runs. Results go to ``OUT/report.json`` (each stage's
output in ``OUT/stages.log``) and, on a GPU, to a dated section of ``docs/benchmarks.md``. OUT is
new, empty or an earlier gpu-check's (``outputs.check_own_folder``); the stages work in a hidden
folder of the run's own inside it, removed at the end.

Large models are created directly on the GPU (PyTorch's default-device context: every
parameter is allocated and initialised there; their size is counted on the meta device first),
never on the CPU, where a 14B model alone would take the whole budget.

The numbers are the ones notebooks 05 (gsplat/CPU parity) and 06 (FLOPs, step time, memory) discuss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from facecam_kit.outputs import check_own_folder, check_writable_folder
from facecam_kit.spec import HEIGHT, NUM_FRAMES, NUM_STEPS, WIDTH

ROOT = Path(__file__).resolve().parent.parent
FSDP2_CONFIG = ROOT / "configs" / "accelerate" / "fsdp2.yaml"
BENCHMARKS_DOC = ROOT / "docs" / "benchmarks.md"
#: the bf16 matrix-product rate of an H100/H200 (docs/official_behaviour.md, section 6.3): the
#: 50-step lower bounds (490 s and 123 s) divide the counted FLOPs by it
BOUND_TFLOPS = 790.0
#: Wan2.1-T2V-1.3B at ReCamMaster's size, the step and training stages' second model
WAN21_SIZE = (81, 480, 832)
#: left in the stages' work folder by stage "render" once gsplat has rendered
GSPLAT_READY = "gsplat.ready"
#: modules the stage server imports once, so that no stage pays for them
PRELOAD = ("torch", "diffusers", "facecam_kit.model.pipeline", "facecam_kit.train.trainer", "facecam_kit.jobs")


def _opt(help_: str, default=None):
    return field(default=default, metadata={"help": help_})


@dataclass
class GpuCheckOptions:
    """Options of ``python -m facecam_kit gpu-check``."""

    out: Path = _opt("where report.json and stages.log go", Path("outputs/gpu_check"))
    dry_run: bool = _opt("the same stages at tiny sizes on the CPU (what the test suite runs)", False)
    docs: Path | None = _opt(
        "append the dated section to this Markdown file (default on a GPU: docs/benchmarks.md; "
        "the dry run writes none unless given)"
    )
    budget: float = _opt("seconds for all stages together", 480.0)
    only: str | None = _opt("comma-separated stage names to run (default: all)")


# -- measuring helpers ---------------------------------------------------------------------------
def _device(dry: bool) -> str:
    return "cpu" if dry else "cuda"


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _peak_gib(device: str) -> float:
    """Peak memory since the last reset: the GPU's allocator, or the process's resident memory."""
    import resource

    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def random_model(cls, kwargs: dict, device: str, dtype):
    """A model of ``cls(**kwargs)`` with random weights, created directly on ``device``.

    Under PyTorch's default-device context each parameter and buffer is allocated and initialised
    on ``device`` (on a GPU in a second for 14B parameters; on the CPU it would take minutes),
    then cast to ``dtype`` (:func:`cast`). Returns (model, number of parameters, counted on the meta
    device first).
    """
    import torch

    with torch.device("meta"):
        n_params = sum(p.numel() for p in cls(**kwargs).parameters())
    with torch.device(device):
        model = cls(**kwargs)
    return cast(model, dtype).eval(), n_params


def cast(model, dtype):
    """``model`` in ``dtype``, except the modules diffusers keeps in float32 (``_keep_in_fp32_modules``:
    Wan's RoPE, time embedder, norms), as ``from_pretrained(torch_dtype=...)`` loads them for ``render``."""
    import torch

    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_floating_point():
            tensor.data = tensor.data.to(torch.float32 if keep & set(name.split(".")) else dtype)
    return model


def dit_kwargs(name: str, dry: bool) -> tuple[type, dict, object, tuple[int, int, int]]:
    """(class, kwargs, flops config, (frames, height, width)) of a step stage's model.

    ``wan22``: a Wan2.2-I2V-A14B expert (36 input channels) at 81x704x480; ``wan21``:
    Wan2.1-T2V-1.3B with ReCamMaster's camera layers at 81x480x832; the dry run: the kit's tiny
    DiT of the same kind at 9x64x64.
    """
    from diffusers import WanTransformer3DModel

    from facecam_kit.baselines.recammaster import ReCamMasterTransformer
    from facecam_kit.model.flops import WAN21_T2V_1_3B, WAN22_I2V_A14B
    from facecam_kit.model.pipeline import tiny_dit_config
    from facecam_kit.train.scale import transformer_kwargs

    cls, cfg, size = {
        "wan22": (WanTransformer3DModel, WAN22_I2V_A14B, (NUM_FRAMES, HEIGHT, WIDTH)),
        "wan21": (ReCamMasterTransformer, WAN21_T2V_1_3B, WAN21_SIZE),
    }[name]
    if dry:
        return cls, tiny_dit_config(cfg.in_channels), None, (9, 64, 64)
    return cls, transformer_kwargs(cfg), cfg, size


def step_inputs(model, frames: int, height: int, width: int, device: str, dtype) -> tuple:
    """One step's DiT input in the kit's layout (:func:`~facecam_kit.model.pipeline.dit_input`):
    FaceCam's ``[target | source]`` with the landmark latents on channels (36), or for a
    ReCamMaster model the 16-channel concatenation and one pose per latent frame. Returns
    (x, camera kwargs, text, empty text)."""
    import torch

    from facecam_kit.model.flops import TEXT_TOKENS, latent_shape
    from facecam_kit.model.pipeline import camera_conditioning, dit_input

    f, h, w = latent_shape(frames, height, width)
    rand = lambda *shape: torch.randn(*shape, device=device, dtype=dtype)
    target, source = rand(1, 16, f, h, w), rand(1, 16, f, h, w)
    if model.config.in_channels == 36:
        x, kwargs = dit_input(target, source, camera_conditioning(rand(1, 16, f, h, w))), {}
    else:
        x, kwargs = dit_input(target, source, None), {"camera": rand(1, f, 12)}
    text_len = 16 if device == "cpu" else TEXT_TOKENS  # the tiny models on the CPU get a short prompt
    text = rand(1, text_len, model.config.text_dim)
    return x, kwargs, text, torch.zeros_like(text)


def meta_forward(cls, kwargs: dict, frames: int, height: int, width: int) -> str:
    """The output shape of ``cls(**kwargs)`` on a step input of ``frames x height x width``
    (:func:`step_inputs`), computed on the meta device: shapes only, no memory, no arithmetic.
    The dry run's check that the full-size configurations fit the kit's input layout."""
    import torch

    with torch.device("meta"):
        model = cast(cls(**kwargs), torch.bfloat16)
        x, camera, text, _ = step_inputs(model, frames, height, width, "meta", torch.bfloat16)
        out = model(x, torch.tensor([900.0]), text, return_dict=False, **camera)[0]
    return "x".join(map(str, out.shape))


def _flops_numbers(cfg, frames: int, height: int, width: int, step_s: float, passes: int) -> dict:
    """Achieved TFLOP/s of ``passes`` forward passes in ``step_s``, the projected 50 steps and their bound."""
    from facecam_kit.model.flops import forward_flops, tokens

    if cfg is None:  # the dry run's tiny model is not a counted configuration
        return {}
    flop = passes * forward_flops(cfg, tokens(frames, height, width))["total"]
    return {"achieved_tflops": flop / step_s / 1e12, "counted_tflop_per_step": flop / 1e12}


def denoise_step(name: str, dry: bool, repeats: int | None = None) -> dict:
    """Time one denoising step with CFG (two forward passes) of a step stage's model (:func:`dit_kwargs`)."""
    import torch

    device = _device(dry)
    dtype = torch.bfloat16  # on the CPU too: the dry run takes the same mixed bf16 / float32 path
    cls, kwargs, cfg, (frames, height, width) = dit_kwargs(name, dry)
    repeats = repeats or (1 if dry or name == "wan22" else 2)
    t0 = time.perf_counter()
    model, n_params = random_model(cls, kwargs, device, dtype)
    build_s = time.perf_counter() - t0
    x, camera, text, empty = step_inputs(model, frames, height, width, device, dtype)
    t = torch.tensor([900.0], device=device, dtype=dtype)
    _reset_peak(device)
    times = []
    with torch.no_grad():
        model(x, t, text, return_dict=False, **camera)  # warm-up: kernels chosen, caches filled
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            for emb in (text, empty):  # the two classifier-free guidance passes
                model(x, t, emb, return_dict=False, **camera)
            _sync(device)
            times.append(time.perf_counter() - t0)
    step = min(times)
    out = {
        "parameters": n_params,
        "tokens": x.shape[2] * x.shape[3] * x.shape[4] // 4,
        "shape": f"{frames}x{height}x{width}",
        "build_s": build_s,
        "seconds_per_step": step,
        "peak_memory_gib": _peak_gib(device),
        **_flops_numbers(cfg, frames, height, width, step, 2),
    }
    if cfg is not None:
        out["projected_50_steps_s"] = NUM_STEPS * step
        out["lower_bound_50_steps_s"] = NUM_STEPS * out["counted_tflop_per_step"] / BOUND_TFLOPS
    else:  # the dry run: the full-size model and input, on the meta device
        full_cls, full_kwargs, _, full_size = dit_kwargs(name, False)
        out["full_size_output"] = meta_forward(full_cls, full_kwargs, *full_size)
    return out


# -- the stages ----------------------------------------------------------------------------------
def renderer_parity(size: int = 480, views: int = 4, repeats: int = 3, backend: str = "auto") -> dict:
    """gsplat (``backend`` "auto": gsplat on CUDA, else the CPU renderer again) against the PyTorch
    rasteriser on the generic proxy head, from ``views`` cameras drawn in the official ranges:
    ms per ``size`` px frame of each (the faster one best of ``repeats``, after a warm-up) and the
    PSNR between their renders (None when one renderer is compared with itself)."""
    import numpy as np

    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.geometry.camera import orbit_cameras
    from facecam_kit.proxy.head import make_proxy_head
    from facecam_kit.proxy.rasterise import render_gaussians, resolve_backend

    g = make_proxy_head().gaussians
    fast = resolve_backend(backend)
    rng = np.random.default_rng(0)  # official ranges: |azimuth| <= 45, |elevation| <= 30, fov 25-55
    cams = orbit_cameras(rng.uniform(-45, 45, views), rng.uniform(-30, 30, views), rng.uniform(25, 55, views))
    K = cams.intrinsics(size, size)

    def render(name):
        return np.stack(
            [render_gaussians(g, cams.R[i], cams.t[i], K[i], size, size, backend=name).numpy() for i in range(views)]
        )

    t0 = time.perf_counter()
    reference = render("cpu")
    cpu_ms = (time.perf_counter() - t0) * 1000 / views
    images = render(fast)  # warm-up: gsplat loads (or compiles) its kernels, the CUDA context starts
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        render(fast)
        times.append((time.perf_counter() - t0) * 1000 / views)
    db = psnr(images, reference)  # float images: data range 1
    return {
        "backend": fast,
        "gaussians": len(g),
        "frame_px": size,
        "views": views,
        "psnr_db": float(db) if np.isfinite(db) else None,
        "cpu_ms_per_frame": cpu_ms,
        "backend_ms_per_frame": min(times),
    }


def measure_render(dry: bool, work: Path) -> dict:
    """Stage 1: :func:`renderer_parity` at 480 px, and the official condition path (render the
    proxy head, MediaPipe, draw) of an 81-frame video."""
    import numpy as np

    from facecam_kit.geometry.trajectory import load_trajectory
    from facecam_kit.proxy.head import make_proxy_head, proxy_condition_video
    from facecam_kit.proxy.rasterise import render_video, resolve_backend

    out = renderer_parity(64, 2, 1) if dry else renderer_parity()
    if out["backend"] == "gsplat":  # its kernels are built and run: the studio of stage "mini" may use them
        (work.parent / GSPLAT_READY).touch()
    frames, height, width = (5, 128, 96) if dry else (NUM_FRAMES, HEIGHT, WIDTH)
    head, backend = make_proxy_head(), resolve_backend("auto")
    traj = load_trajectory("arc_left", frames)
    t0 = time.perf_counter()
    render_video(head.gaussians, traj.cameras(), height, width, backend, progress=False)
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, _, detected = proxy_condition_video(head, traj, height, width, backend, allow_missing=True, progress=False)
    condition_s = time.perf_counter() - t0
    return out | {
        "condition_video": f"{frames}x{height}x{width}",
        "condition_video_s": condition_s,
        "condition_render_s": render_s,
        "condition_mediapipe_and_draw_s": condition_s - render_s,
        "condition_frames_detected": int(np.isfinite(detected).all((1, 2)).sum()),
    }


def measure_step_wan22(dry: bool, work: Path) -> dict:
    """Stage 2a: one step of a Wan2.2-I2V-A14B expert at 81x704x480 with FaceCam's input layout."""
    return denoise_step("wan22", dry)


def measure_step_wan21(dry: bool, work: Path) -> dict:
    """Stage 2b: one step of Wan2.1-1.3B with ReCamMaster's camera layers at 81x480x832."""
    return denoise_step("wan21", dry)


def measure_low_vram(dry: bool, work: Path) -> dict:
    """Stage 3: the FaceCam pipeline with the 14B expert (one expert), model CPU offload and VAE
    tiling, two steps with CFG on an 81x704x480 video (``render --low-vram``)."""
    import numpy as np
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler, tiny_facecam_pipeline

    device = _device(dry)
    steps = 2
    if dry:
        pipe = tiny_facecam_pipeline(two_experts=False)
        frames, height, width = 9, 64, 64
        text = torch.zeros(1, 16, pipe.transformer.config.text_dim)
        pipe.enable_model_cpu_offload(device="cpu")  # the same hooks, with the CPU as the "accelerator"
        pipe.vae.enable_tiling(32, 32, 16, 16)  # tiles smaller than the frame, so that tiling runs
    else:
        cls, kwargs, _, (frames, height, width) = dit_kwargs("wan22", dry)
        transformer, _ = random_model(WanTransformer3DModel, kwargs, device, torch.bfloat16)
        vae, _ = random_model(AutoencoderKLWan, {}, device, torch.bfloat16)  # the Wan2.1 VAE's configuration
        pipe = FaceCamPipeline(transformer, vae, make_scheduler(), random_weights=True)
        text = torch.randn(1, 512, transformer.config.text_dim)
        pipe.enable_model_cpu_offload()  # weights wait in host memory; each model visits the GPU when it runs
        pipe.vae.enable_tiling()
        torch.cuda.empty_cache()
    pipe.set_progress_bar_config(disable=True)
    video = np.random.default_rng(0).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    marks = []
    _reset_peak(device)
    t0 = time.perf_counter()
    pipe(
        video,
        video,
        prompt_embeds=text,
        negative_prompt_embeds=torch.zeros_like(text),
        num_inference_steps=steps,
        callback_on_step_end=lambda p, i, t, kw: marks.append(time.perf_counter()) or kw,
    )
    total = time.perf_counter() - t0
    return {
        "video": f"{frames}x{height}x{width}",
        "steps": steps,
        "seconds_per_step": marks[1] - marks[0],  # the expert already on the GPU
        "first_step_with_vae_encode_and_upload_s": marks[0] - t0,
        "vae_decode_s": t0 + total - marks[-1],
        "total_s": total,
        "peak_memory_gib": _peak_gib(device),
    }


class RandomLatents:
    """What the trainer reads from a latent cache (:class:`~facecam_kit.train.cache.CachedLatents`),
    as random tensors of a run's size: the training stages measure the step, not the data."""

    def __init__(self, num_samples: int, latent_shape: tuple, text_dim: int, text_len: int, camera_key: str):
        import torch

        g = torch.Generator().manual_seed(0)
        f = latent_shape[1]
        shapes = {"target": latent_shape, "source": latent_shape, "condition": latent_shape, "camera": (f, 12)}
        self.keys = sorted({"target", "source", camera_key})
        self._items = [{k: torch.randn(shapes[k], generator=g) for k in self.keys} for _ in range(num_samples)]
        self._text = (torch.randn(text_len, text_dim, generator=g), torch.zeros(text_len, text_dim))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> dict:
        return self._items[i]

    def text(self):
        return self._text


def _trainer_class():
    """The kit's :class:`~facecam_kit.train.trainer.Trainer`, measured: on :class:`RandomLatents`
    when ``latents`` is set, for ``minutes`` once its data is ready (checked after every step, in
    the validation hook: ``validate_every`` 1), with checkpoints only when ``save`` is set."""
    from facecam_kit.train.trainer import Trainer

    class OutOfTime(Exception):
        pass

    class MeasuredTrainer(Trainer):
        latents: RandomLatents | None = None
        minutes: float | None = None
        save: bool = False
        data_s = train_start = train_s = 0.0
        deadline = float("inf")

        def prepare_data(self):
            t0 = time.perf_counter()
            data = super().prepare_data() if self.latents is None else self.latents
            self.data_s = time.perf_counter() - t0
            self.train_start = time.perf_counter()
            if self.minutes is not None:
                self.deadline = self.train_start + 60 * self.minutes
            return data

        def save_checkpoint(self):
            return super().save_checkpoint() if self.save else None

        def validate(self):
            if time.perf_counter() > self.deadline:
                raise OutOfTime

        def train_and_save(self) -> Path:
            """Train until ``max_steps`` or the deadline, then save a checkpoint; returns it."""
            try:
                self.train()
            except OutOfTime:
                self.acc.end_training()
            self.train_s = time.perf_counter() - self.train_start
            self.save = True
            return self.save_checkpoint()

    return MeasuredTrainer


def measure_training(dry: bool, work: Path) -> dict:
    """Stage 4: training steps of Wan2.1-1.3B (ReCamMaster preset) at 81x480x832 in bf16 with
    activation checkpointing, under the kit's trainer and accelerate (one plain process, or the
    FSDP2 configuration when started by ``accelerate launch``)."""
    import torch

    from facecam_kit.baselines.recammaster import ReCamMasterTransformer
    from facecam_kit.model.flops import WAN21_T2V_1_3B, latent_shape
    from facecam_kit.model.pipeline import tiny_dit_config
    from facecam_kit.train.config import TrainConfig
    from facecam_kit.train.scale import transformer_kwargs

    device = _device(dry)
    frames, height, width = (9, 64, 64) if dry else WAN21_SIZE
    # over tiny_dit_config: the 1.3B's layers and Wan's text, time and RoPE sizes
    full = {**transformer_kwargs(WAN21_T2V_1_3B), "text_dim": 4096, "freq_dim": 256, "rope_max_seq_len": 1024}
    dit = None if dry else full
    # FSDP2's configuration checkpoints every block itself (fsdp_activation_checkpointing)
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true" and device == "cuda"
    steps = 2 if dry else 3
    cfg = TrainConfig(
        output_dir=str(work / "run"),
        model="tiny",
        camera="extrinsics",
        dit=dit,
        preset="recammaster",
        data_root=str(work),
        num_frames=frames,
        text_dropout=0.1,
        max_steps=steps,
        lr=1e-5,
        mixed_precision="bf16",
        gradient_checkpointing=not fsdp,
        log_every=1,
        checkpoint_every=steps,
        tracker="none",
        progress=False,
    )
    t0 = time.perf_counter()
    with torch.device(device):  # the 1.3B model is created on the GPU (random_model's reasoning)
        trainer = _trainer_class()(cfg)
    build_s = time.perf_counter() - t0
    model = trainer.trained["transformer"]
    text_len = 512 if device == "cuda" else 16
    trainer.latents = RandomLatents(
        4, (16, *latent_shape(frames, height, width)), model.config.text_dim, text_len, "camera"
    )
    _reset_peak(device)
    trainer.train()
    step_s = [1 / h["samples_per_s"] for h in trainer.history[1:]]  # batch 1; the first step warms up
    step = sum(step_s) / len(step_s)
    wrapped = type(trainer.models["transformer"]).__name__
    out = {
        "shape": f"{frames}x{height}x{width}",
        "distributed_type": trainer.acc.distributed_type.value,
        "processes": trainer.acc.num_processes,
        "wrapped_as": wrapped,
        "checkpointing": "FSDP2 per block" if fsdp else "model (enable_gradient_checkpointing)",
        "build_s": build_s,
        "steps_timed": len(step_s),
        "seconds_per_step": step,
        "peak_memory_gib": _peak_gib(device),
        "loss": trainer.history[-1]["loss"],
    }
    # forward + backward (2x) + the checkpoint's recompute: 4 forward passes a step (train.scale)
    out |= _flops_numbers(None if dry else WAN21_T2V_1_3B, frames, height, width, step, 4)
    if dry:  # the full-size run's model (tiny_dit_config under its settings) and input, on the meta device
        out["full_size_output"] = meta_forward(ReCamMasterTransformer, {**tiny_dit_config(16), **full}, *WAN21_SIZE)
    return out


def measure_mini(dry: bool, work: Path) -> dict:
    """Stage 5: FaceCam-mini at GPU size (:data:`facecam_kit.mini.recipe.GPU_RECIPE`) trained by
    the kit's trainer for a fixed number of minutes, then its generation time per clip."""
    import torch

    from facecam_kit.data.studio import make_studio
    from facecam_kit.mini.experiment import generate, held_out_head, make_scene, trajectory_cameras
    from facecam_kit.mini.models import GENERATE_STEPS, MINI_DIR
    from facecam_kit.mini.recipe import DIT, GPU_RECIPE, SHIPPED, dit_config
    from facecam_kit.model.pipeline import FaceCamPipeline
    from facecam_kit.proxy.rasterise import resolve_backend

    r = GPU_RECIPE if not dry else dict(GPU_RECIPE, size=32, num_frames=5, heads=1, samples_per_item=4, batch=2)
    if dry:
        r |= {"cameras": 2, "minutes": 0.03, "dit": DIT}
    size, frames = r["size"], r["num_frames"]
    t0 = time.perf_counter()
    studio = work / "studio"
    # gsplat once stage "render" ran it (an unbuilt gsplat compiles for minutes), else, in this
    # stage's process only, gsplat counts as missing: the studio and test heads render on the CPU
    if not (work.parent / GSPLAT_READY).is_file():
        sys.modules["gsplat"] = None
    backend = resolve_backend("auto")
    cameras = r.get("cameras", SHIPPED.cameras)
    make_studio(studio, r["heads"], cameras, 2 * frames - 1, size, seed=0, backend=backend, progress=False)
    studio_s = time.perf_counter() - t0
    cfg = dit_config(
        work,
        "landmarks",
        max_steps=10**6,
        progress=False,
        recipe=SHIPPED,  # the data rules its VAE was trained with (stitching on its latent frames)
        dit=dict(r["dit"], patch_size=list(r["dit"]["patch_size"])),
        vae=str(MINI_DIR / "landmarks" / "vae"),  # the shipped mini VAE: convolutional, any size
        data_root=str(studio),
        num_frames=frames,
        samples_per_item=r["samples_per_item"],
        batch_size=r["batch"],
        mixed_precision="no" if dry else "bf16",
        log_every=10,
        validate_every=1,  # the deadline's check (MeasuredTrainer.validate)
        tracker="none",
    )
    trainer = _trainer_class()(cfg)
    trainer.minutes = r["minutes"]
    checkpoint = trainer.train_and_save()
    pipe = FaceCamPipeline.from_pretrained(checkpoint).to(_device(dry))
    pipe.set_progress_bar_config(disable=True)
    h = held_out_head(1, size, frames)
    path = trajectory_cameras("orbit_left", h.azimuth, frames)
    scene = make_scene(h, path, 1.0, "orbit_left", "a", **SHIPPED.scene_options())
    steps = 2 if dry else GENERATE_STEPS
    times = []
    for _ in range(2):  # the first one warms up
        t1 = time.perf_counter()
        with torch.no_grad():
            generate(pipe, scene, steps)
        times.append(time.perf_counter() - t1)
    return {
        "video": f"{frames}x{size}x{size}",
        "dit_parameters": sum(p.numel() for p in pipe.transformer.parameters()),
        "studio_backend": backend,
        "studio_s": studio_s,
        "cache_s": trainer.data_s,
        "minutes": r["minutes"],
        "train_s": trainer.train_s,
        "steps_trained": trainer.step,
        "samples_per_s": trainer.step * r["batch"] / trainer.train_s,
        "final_loss": trainer.history[-1]["loss"] if trainer.history else None,
        "generation_steps": steps,
        "seconds_per_clip": times[-1],
    }


def measure_render_job(dry: bool, work: Path) -> dict:
    """Stage 6: ``render`` on the bundled clip with the tiny random pipeline, end to end."""
    from facecam_kit.assets import data_path
    from facecam_kit.jobs import RenderOptions, run_render
    from facecam_kit.model.pipeline import tiny_facecam_pipeline

    weights = work / "tiny"
    tiny_facecam_pipeline().save_pretrained(weights)
    size = dict(frames=9, height=128, width=96, steps=2) if dry else {}
    opts = RenderOptions(
        video=data_path("sample_clip.mp4"), trajectory="arc_left", out=work / "out", weights=weights, **size
    )
    t0 = time.perf_counter()
    files = run_render(opts, progress=False)
    total = time.perf_counter() - t0
    run = json.loads(next(f for f in files if f.name.endswith("_run.json")).read_text())
    return {
        "video": f"{opts.frames}x{opts.height}x{opts.width}",
        "steps": opts.steps,
        "total_s": total,
        **{k: v for k, v in run["timings"].items()},
        "files": len(files),
    }


def _loader_paths(work: Path) -> tuple[Path, Path]:
    folder = work.parent / "loader_write" / "facecam_high_noise"  # the official expert folder's name
    return folder, folder.parent / "config.json"


def measure_loader_write(dry: bool, work: Path) -> dict:
    """Stage 7a: a random 14B expert written in the official (Wan / DiffSynth) key layout, in shards."""
    import torch
    from diffusers import WanTransformer3DModel
    from safetensors.torch import save_file

    from facecam_kit.model.weights import to_original_layout

    device = _device(dry)
    _, kwargs, _, _ = dit_kwargs("wan22", dry)
    folder, config = _loader_paths(work)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    model, n_params = random_model(WanTransformer3DModel, kwargs, device, torch.bfloat16)
    config.write_text(json.dumps(dict(model.config)))
    state = to_original_layout(model.state_dict())
    del model
    shard, size, shards = {}, 0, 0
    limit = 5 * 2**30  # 5 GiB shards, as the official checkpoints
    for i, (k, v) in enumerate(state.items()):
        shard[k] = v.to("cpu").contiguous()
        size += v.numel() * v.element_size()
        if size >= limit or i == len(state) - 1:
            save_file(shard, folder / f"diffusion_pytorch_model-{shards:05d}.safetensors")
            shard, size, shards = {}, 0, shards + 1
    seconds = time.perf_counter() - t0
    bytes_ = sum(p.stat().st_size for p in folder.iterdir())
    return {"parameters": n_params, "shards": shards, "gib": bytes_ / 2**30, "write_s": seconds}


def measure_loader_read(dry: bool, work: Path) -> dict:
    """Stage 7b: that checkpoint read back through :func:`facecam_kit.model.weights.load_checkpoint_into`
    into an expert allocated in host memory, as ``render --weights`` loads FaceCam's experts."""
    import resource

    import torch
    from diffusers import WanTransformer3DModel

    from facecam_kit.model.weights import checkpoint_shapes, load_checkpoint_into

    folder, config = _loader_paths(work)
    if not config.is_file():
        raise FileNotFoundError(f"no checkpoint in {folder}: stage loader_write did not finish")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    shapes = checkpoint_shapes(folder)  # headers only, as inspect_weights reads them
    header_s = time.perf_counter() - t0
    with torch.device("meta"):
        model = cast(WanTransformer3DModel.from_config(json.loads(config.read_text())), torch.bfloat16)
    model = model.to_empty(device="cpu")  # bf16 host memory, uninitialised: the checkpoint fills it
    t0 = time.perf_counter()
    missing, unexpected = load_checkpoint_into(model, folder)
    read_s = time.perf_counter() - t0
    shutil.rmtree(folder.parent, ignore_errors=True)  # tens of GB on a GPU machine's disk
    return {
        "tensors": len(shapes),
        "header_s": header_s,
        "read_convert_load_s": read_s,
        "missing_keys": missing,
        "unexpected_keys": unexpected,
        "peak_host_memory_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "host_memory_before_gib": rss0,
    }


@dataclass(frozen=True)
class Stage:
    """One measurement: ``fn(dry, work) -> dict of results``, run in its own process within
    ``limit_s`` seconds (on a GPU; the dry run allows ``dry_limit_s``). ``launcher`` "accelerate"
    starts it with ``accelerate launch`` and the FSDP2 configuration; ``optional`` stages run when
    time is left."""

    name: str
    title: str
    fn: Callable[[bool, Path], dict]
    limit_s: float
    dry_limit_s: float = 120.0
    launcher: str = "fork"
    optional: bool = False


STAGES = (
    Stage("render", "1. gsplat vs the PyTorch rasteriser; the official condition path", measure_render, 90),
    Stage("step_wan22", "2. one step, Wan2.2-I2V-A14B expert, 81x704x480, bf16, CFG", measure_step_wan22, 120),
    Stage("step_wan21", "2. one step, Wan2.1-1.3B + ReCamMaster layers, 81x480x832, bf16, CFG", measure_step_wan21, 60),
    Stage("low_vram", "3. the low-VRAM path: model CPU offload, VAE tiling (14B expert)", measure_low_vram, 150),
    Stage("train_plain", "4. training, Wan2.1-1.3B, 81x480x832, one plain process", measure_training, 90),
    Stage(
        "train_fsdp2",
        "4. training, Wan2.1-1.3B, 81x480x832, FSDP2 at world size 1",
        measure_training,
        100,
        launcher="accelerate",
    ),
    Stage("mini", "5. FaceCam-mini at GPU size: minutes of training, generation", measure_mini, 150),
    Stage("render_job", "6. render on the bundled clip, tiny random pipeline", measure_render_job, 90),
    Stage(
        "loader_write",
        "7. a random 14B expert written in the official layout",
        measure_loader_write,
        120,
        optional=True,
    ),
    Stage("loader_read", "7. ... read back through model/weights.py", measure_loader_read, 120, optional=True),
)


# -- running the stages -------------------------------------------------------------------------
def _record(fn, dry: bool, work: Path, result: Path) -> None:
    """Run ``fn`` and write its results, or its error, to ``result`` (JSON)."""
    work.mkdir(parents=True, exist_ok=True)
    try:
        import torch

        if torch.cuda._is_in_bad_fork():  # CUDA started in the stage server: it cannot be used after a fork
            raise RuntimeError("CUDA was initialised before this stage's process was forked; run the stage alone")
        record = {"results": fn(dry, work)}
    except BaseException as e:  # the stage's failure is its finding; the orchestrator goes on
        lines = str(e).strip().splitlines()
        error = type(e).__name__ + (f": {lines[0]}" if lines else "")
        record = {"error": error, "traceback": traceback.format_exc()[-4000:]}
        print(record["traceback"], file=sys.stderr)  # into the stage's log
    tmp = result.with_suffix(".partial")
    tmp.write_text(json.dumps(record, default=str))
    tmp.replace(result)


def _stage_process(stage_name: str, fn, dry: bool, work: Path, result: Path, log: Path) -> None:
    """A stage's process: its own session (killed as a group on timeout), output to its log."""
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if dry:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the dry run is the CPU path, GPU or not
    if fn is None:  # started by `accelerate launch`, in a process of its own
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP2_CONFIG)]
        cmd += ["--num_processes", "1", "-m", "facecam_kit.gpu_check", stage_name, str(work), str(result)]
        sys.stdout.flush()
        code = subprocess.call(cmd + (["--dry-run"] if dry else []), stdout=1, stderr=2)
        if code and not result.is_file():
            result.write_text(json.dumps({"error": f"accelerate launch exited with code {code}"}))
        return
    _record(fn, dry, work, result)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_stages(stages, dry: bool, out: Path, budget_s: float, say=print) -> list[dict]:
    """Run ``stages`` one after another, each in its own process and time limit, within ``budget_s``.

    Returns one record per stage: name, title, status (ok, failed, timed out, crashed, skipped),
    seconds, limit_s, results (the stage's numbers) or error (one line; the log's tail in
    ``log_tail``). Each stage's output goes to ``out/stages.log``, under a line naming it.
    """
    import multiprocessing

    # the server must not start CUDA (a forked child could not use it): a CUDA check there asks NVML instead
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD) + ["facecam_kit.gpu_check"])
    out.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix=".gpu-check-work-", dir=out))  # this run's own: removed whole
    combined = out / "stages.log"
    combined.write_text("")
    start, records = time.perf_counter(), []
    for i, stage in enumerate(stages, 1):
        left = budget_s - (time.perf_counter() - start)
        own = stage.dry_limit_s if dry else stage.limit_s
        limit = min(own, left)
        record = {"name": stage.name, "title": stage.title, "limit_s": round(limit, 1)}
        # too little left to start anything (a stage's process, its imports), or an optional stage cut short
        if left < (5 if dry else 30) or (stage.optional and limit < own):
            record |= {"status": "skipped", "seconds": 0.0, "error": f"out of time ({left:.0f} s of the budget left)"}
            records.append(record)
            say(f"[{i}/{len(stages)}] {stage.name}: skipped, {record['error']}")
            continue
        work, log = work_root / stage.name, work_root / f"{stage.name}.log"
        result = work_root / f"{stage.name}.result.json"
        result.unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        fn = None if stage.launcher == "accelerate" else stage.fn
        p = ctx.Process(target=_stage_process, args=(stage.name, fn, dry, work, result, log), daemon=False)
        t0 = time.perf_counter()
        p.start()
        p.join(limit)
        if p.is_alive():
            _kill_group(p.pid)
            p.join()
            record |= {"status": "timed out", "error": f"no result within its {limit:.0f} s limit"}
        elif result.is_file():
            done = json.loads(result.read_text())
            record |= {"status": "ok", "results": done["results"]} if "results" in done else {"status": "failed"}
            if "error" in done:
                record |= {"error": done["error"], "traceback": done.get("traceback", "")}
        else:
            how = f"signal {-p.exitcode}" if p.exitcode < 0 else f"exit code {p.exitcode}"
            record |= {"status": "crashed", "error": f"the stage's process died ({how}) without a result"}
        _kill_group(p.pid)  # anything the stage left running (a launcher's workers)
        record["seconds"] = round(time.perf_counter() - t0, 2)
        if record["status"] != "ok":
            record["log_tail"] = _tail(log)
        with combined.open("a") as f:  # one file for all: a lent machine may hand back only a few
            f.write(f"==== {stage.name}: {record['status']} in {record['seconds']:.1f} s ====\n")
            f.write(log.read_text(errors="replace") if log.is_file() else "")
        records.append(record)
        say(f"[{i}/{len(stages)}] {stage.name}: {record['status']} in {record['seconds']:.1f} s; {_summary(record)}")
    shutil.rmtree(work_root, ignore_errors=True)
    return records


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _summary(record: dict) -> str:
    if record["status"] != "ok":
        return record.get("error", "")
    return ", ".join(f"{k} {_fmt(v)}" for k, v in record["results"].items())


def environment(dry: bool) -> dict:
    """The machine and the versions the numbers belong to."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    env = {"mode": "dry run (CPU, tiny sizes)" if dry else "GPU", "python": sys.version.split()[0]}
    for pkg in ("torch", "diffusers", "gsplat", "accelerate", "transformers", "mediapipe"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    env["cuda"] = torch.version.cuda
    env["cpu_cores"] = os.cpu_count()
    env["device"], env["driver"], env["gpu_memory"] = "cpu", None, None
    if not dry:  # from nvidia-smi: this process creates no CUDA context (the stages are its children)
        q = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
        try:
            line = subprocess.run(q, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
            env["device"], env["driver"], env["gpu_memory"] = (x.strip() for x in line.split(","))
        except (OSError, subprocess.TimeoutExpired, IndexError, ValueError):
            env["device"] = "a CUDA GPU (nvidia-smi did not answer)"
    return env


def markdown_section(report: dict) -> str:
    """The dated section of ``docs/benchmarks.md`` for a report: its machine, versions and every stage."""
    env = report["environment"]
    versions = ", ".join(f"{k} {env.get(k)}" for k in ("torch", "cuda", "diffusers", "gsplat", "accelerate"))
    lines = [
        f"## {report['date']}: {env['device']} ({env['mode']})",
        "",
        f"Driver {env.get('driver')}; {versions}; Python {env['python']}, {env['cpu_cores']} CPU cores. "
        f"`python -m facecam_kit gpu-check{' --dry-run' if report['dry_run'] else ''}`: "
        f"{report['total_s']:.0f} s of a {report['budget_s']:.0f} s budget.",
        "",
        "| stage | status | s | results |",
        "|---|---|---:|---|",
    ]
    for r in report["stages"]:
        text = _summary(r).replace("|", "/")
        lines.append(f"| `{r['name']}`: {r['title']} | {r['status']} | {r['seconds']:.1f} | {text} |")
    return "\n".join(lines) + "\n"


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report.json that gpu-check wrote (not a user's file of that name)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and {"environment", "stages", "budget_s"} <= set(report)


def run_gpu_check(opts: GpuCheckOptions) -> list[Path]:
    """The ``gpu-check`` job: every stage (or ``--only`` some) within the budget; writes
    ``OUT/report.json``, ``OUT/stages.log``, and (on a GPU, or with ``--docs``) the Markdown
    section. Returns the files written. Raises ValueError without CUDA (unless ``dry_run``)."""
    import torch

    names = [s.name for s in STAGES]
    wanted = names if opts.only is None else [n.strip() for n in opts.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown or not wanted:
        raise ValueError(f"--only takes stage names among {', '.join(names)}; got {opts.only!r}")
    if not (isinstance(opts.budget, int | float) and 0 < opts.budget < 1e6):
        raise ValueError(f"--budget must be a number of seconds > 0, got {opts.budget!r}")
    if not opts.dry_run and not torch.cuda.is_available():
        raise ValueError(
            f"gpu-check needs a CUDA GPU and torch {torch.__version__} sees none here; "
            "--dry-run runs the same stages at tiny sizes on the CPU"
        )
    out = check_own_folder(opts.out, "report.json", "--out", "gpu-check report", _is_report)
    docs = opts.docs if opts.docs is not None or opts.dry_run else BENCHMARKS_DOC
    if docs is not None:  # before any stage: a folder or a read-only place would fail only at the end
        docs = Path(docs)
        check_writable_folder(docs.parent, "--docs")
        if docs.exists() and not (docs.is_file() and os.access(docs, os.W_OK)):
            raise ValueError(f"--docs {docs} is not a writable file; name a Markdown file to append the section to")
    stages = [s for s in STAGES if s.name in wanted]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    env = environment(opts.dry_run)
    print(
        f"gpu-check{' --dry-run' if opts.dry_run else ''} on {env['device']}: {len(stages)} stages, {opts.budget:.0f} s"
    )
    t0 = time.perf_counter()
    records = run_stages(stages, opts.dry_run, out, opts.budget)
    report = {
        "date": date,
        "dry_run": opts.dry_run,
        "environment": env,
        "budget_s": opts.budget,
        "total_s": round(time.perf_counter() - t0, 1),
        "stages": records,
    }
    files = [out / "report.json"]
    files[0].write_text(json.dumps(report, indent=1, default=str) + "\n")
    files.append(out / "stages.log")
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
        before = docs.read_text() if docs.is_file() else "# Benchmarks\n"
        docs.write_text(before.rstrip("\n") + "\n\n" + markdown_section(report))
        files.append(docs)
    ok = sum(r["status"] == "ok" for r in records)
    print(f"{ok} of {len(records)} stages ok in {report['total_s']:.0f} s")
    return files


def main(argv=None) -> int:
    """A stage under ``accelerate launch``: ``python -m facecam_kit.gpu_check STAGE WORK RESULT [--dry-run]``."""
    p = argparse.ArgumentParser(prog="python -m facecam_kit.gpu_check", description=main.__doc__)
    p.add_argument("stage", choices=[s.name for s in STAGES])
    p.add_argument("work", type=Path)
    p.add_argument("result", type=Path)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    _record(next(s.fn for s in STAGES if s.name == a.stage), a.dry_run, a.work, a.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
