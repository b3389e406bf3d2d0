"""The measurements of ``python -m facecam_kit gpu-check`` (:mod:`facecam_kit.gpu_check` runs them):
each stage is a function ``(dry, work) -> dict of results``, at full size on a GPU and at tiny sizes
on the CPU (``dry``), listed in :data:`STAGES` with its time limit.

The numbers are the ones notebooks 05 (gsplat/CPU parity) and 06 (FLOPs, step time, memory) discuss;
how each is measured (the device, peak memory, a random model, one step) is :mod:`facecam_kit.gpu_measure`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facecam_kit.gpu_measure import (
    WAN21_SIZE,
    cast,
    denoise_step,
    device_for,
    dit_kwargs,
    flops_numbers,
    meta_forward,
    peak_gib,
    random_model,
    reset_peak,
)
from facecam_kit.spec import HEIGHT, NUM_FRAMES, WIDTH

#: left in the stages' work folder by stage "render" once gsplat has rendered
GSPLAT_READY = "gsplat.ready"


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

    device = device_for(dry)
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
    reset_peak(device)
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
        "peak_memory_gib": peak_gib(device),
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
    when ``latents`` is set, without checkpoints (the stages time steps, they keep no model)."""
    from facecam_kit.train.trainer import Trainer

    class MeasuredTrainer(Trainer):
        latents: RandomLatents | None = None

        def prepare_data(self):
            return super().prepare_data() if self.latents is None else self.latents

        def save_checkpoint(self):
            return None

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

    device = device_for(dry)
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
    reset_peak(device)
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
        "peak_memory_gib": peak_gib(device),
        "loss": trainer.history[-1]["loss"],
    }
    # forward + backward (2x) + the checkpoint's recompute: 4 forward passes a step (train.scale)
    out |= flops_numbers(None if dry else WAN21_T2V_1_3B, frames, height, width, step, 4)
    if dry:  # the full-size run's model (tiny_dit_config under its settings) and input, on the meta device
        out["full_size_output"] = meta_forward(ReCamMasterTransformer, {**tiny_dit_config(16), **full}, *WAN21_SIZE)
    return out


def measure_mini(dry: bool, work: Path) -> dict:
    """Stage 5: FaceCam-mini at GPU size (:data:`facecam_kit.mini.recipe.GPU_RECIPE`): a studio, its
    latent cache (the shipped mini VAE: convolutional, any size), the landmark network trained for a
    fixed number of steps, then its generation time per clip."""
    import torch
    from diffusers import AutoencoderKLWan

    from facecam_kit.data.dataset import StudioDataset
    from facecam_kit.data.studio import make_studio
    from facecam_kit.mini.experiment import generate, held_out_head, make_scene, trajectory_cameras
    from facecam_kit.mini.models import MINI_DIR, mini_pipeline
    from facecam_kit.mini.recipe import GPU_RECIPE, SHIPPED
    from facecam_kit.mini.stages import data_rules
    from facecam_kit.mini.unet_training import MiniRun, load_cache, train_run
    from facecam_kit.model.pipeline import normalise_latents
    from facecam_kit.proxy.rasterise import resolve_backend
    from facecam_kit.train.cache import build_cache

    r = GPU_RECIPE if not dry else dict(GPU_RECIPE, size=32, heads=1, samples_per_item=4, batch=2)
    if dry:
        r |= {"cameras": 2, "steps": 3, "widths": (16, 32)}
    size, frames, device = r["size"], r["num_frames"], device_for(dry)
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
    t0 = time.perf_counter()
    vae = AutoencoderKLWan.from_pretrained(MINI_DIR / "landmarks" / "vae").to(device).eval()
    data = StudioDataset(studio, frames, r["samples_per_item"], True, seed=0, **data_rules(SHIPPED))
    no_text = torch.zeros(1, 1), torch.zeros(1, 1)

    def encode(video):
        return normalise_latents(vae, vae.encode(video.to(device)).latent_dist.mode()).cpu()

    build_cache(data, encode, work / "cache", *no_text, {"size": size}, progress=False)
    run = MiniRun(str(work / "cache"), str(work / "run"), "landmarks", block_out_channels=tuple(r["widths"]),
                  steps=r["steps"], batch=r["batch"], log_every=1, progress=False)  # fmt: skip
    latents = load_cache(run.cache_dir, run.keys)
    cache_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_run(run, latents, device)
    train_s = time.perf_counter() - t0
    record = json.loads((work / "run" / "record.json").read_text())
    pipe = mini_pipeline(work / "run" / "unet", MINI_DIR / "landmarks" / "vae", "landmarks").to(device)
    h = held_out_head(1, size, frames)
    path = trajectory_cameras("orbit_left", h.azimuth, frames)
    scene = make_scene(h, path, 1.0, "orbit_left", "a", **SHIPPED.scene_options())
    times = []
    for _ in range(2):  # the first one warms up
        t1 = time.perf_counter()
        with torch.no_grad():
            generate(pipe, scene)
        times.append(time.perf_counter() - t1)
    return {
        "video": f"{frames}x{size}x{size}",
        "unet_parameters": sum(p.numel() for p in pipe.unet.parameters()),
        "studio_backend": backend,
        "studio_s": studio_s,
        "cache_s": cache_s,
        "train_s": train_s,
        "steps_trained": record["steps"],
        "samples_per_s": record["steps"] * r["batch"] / train_s,
        "final_loss": record["history"][-1]["loss"],
        "generation_steps": SHIPPED.sampler_steps,
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

    device = device_for(dry)
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
    Stage("mini", "5. FaceCam-mini at GPU size: 2,000 training steps, generation", measure_mini, 150),
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
