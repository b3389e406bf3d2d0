"""Measuring a model on a GPU (or at tiny sizes on the CPU): the device, its peak memory, a random
full-size model built in place, one step's input in the kit's layout, and the time of one denoising
step with its FLOP rate. :mod:`facecam_kit.gpu_stages` measures with these; ``benchmarks/bench_step.py``
calls :func:`denoise_step` directly.

The numbers are the ones notebook 06 discusses (FLOPs, step time, memory).
"""

from __future__ import annotations

import time

from facecam_kit.spec import HEIGHT, NUM_FRAMES, NUM_STEPS, WIDTH

#: the bf16 matrix-product rate of an H100/H200 (docs/official_behaviour.md, section 6.3): the
#: 50-step lower bounds (490 s and 123 s) divide the counted FLOPs by it
BOUND_TFLOPS = 790.0
#: Wan2.1-T2V-1.3B at ReCamMaster's size, the step and training stages' second model
WAN21_SIZE = (81, 480, 832)


def device_for(dry: bool) -> str:
    """The device a stage measures on: the GPU, or the CPU for the dry run."""
    return "cpu" if dry else "cuda"


def sync(device: str) -> None:
    """Wait for the GPU's queued work, so that a clock reading covers it."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: str) -> float:
    """Peak memory since the last reset: the GPU's allocator, or the process's resident memory."""
    import resource

    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset_peak(device: str) -> None:
    """Start a new peak-memory measurement (the GPU allocator's; a process's resident peak cannot be reset)."""
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


def flops_numbers(cfg, frames: int, height: int, width: int, step_s: float, passes: int) -> dict:
    """Achieved TFLOP/s of ``passes`` forward passes in ``step_s``, the projected 50 steps and their bound."""
    from facecam_kit.model.flops import forward_flops, tokens

    if cfg is None:  # the dry run's tiny model is not a counted configuration
        return {}
    flop = passes * forward_flops(cfg, tokens(frames, height, width))["total"]
    return {"achieved_tflops": flop / step_s / 1e12, "counted_tflop_per_step": flop / 1e12}


def denoise_step(name: str, dry: bool, repeats: int | None = None) -> dict:
    """Time one denoising step with CFG (two forward passes) of a step stage's model (:func:`dit_kwargs`)."""
    import torch

    device = device_for(dry)
    dtype = torch.bfloat16  # on the CPU too: the dry run takes the same mixed bf16 / float32 path
    cls, kwargs, cfg, (frames, height, width) = dit_kwargs(name, dry)
    repeats = repeats or (1 if dry or name == "wan22" else 2)
    t0 = time.perf_counter()
    model, n_params = random_model(cls, kwargs, device, dtype)
    build_s = time.perf_counter() - t0
    x, camera, text, empty = step_inputs(model, frames, height, width, device, dtype)
    t = torch.tensor([900.0], device=device, dtype=dtype)
    reset_peak(device)
    times = []
    with torch.no_grad():
        model(x, t, text, return_dict=False, **camera)  # warm-up: kernels chosen, caches filled
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            for emb in (text, empty):  # the two classifier-free guidance passes
                model(x, t, emb, return_dict=False, **camera)
            sync(device)
            times.append(time.perf_counter() - t0)
    step = min(times)
    out = {
        "parameters": n_params,
        "tokens": x.shape[2] * x.shape[3] * x.shape[4] // 4,
        "shape": f"{frames}x{height}x{width}",
        "build_s": build_s,
        "seconds_per_step": step,
        "peak_memory_gib": peak_gib(device),
        **flops_numbers(cfg, frames, height, width, step, 2),
    }
    if cfg is not None:
        out["projected_50_steps_s"] = NUM_STEPS * step
        out["lower_bound_50_steps_s"] = NUM_STEPS * out["counted_tflop_per_step"] / BOUND_TFLOPS
    else:  # the dry run: the full-size model and input, on the meta device
        full_cls, full_kwargs, _, full_size = dit_kwargs(name, False)
        out["full_size_output"] = meta_forward(full_cls, full_kwargs, *full_size)
    return out
