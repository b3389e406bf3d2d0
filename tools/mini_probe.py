"""Issue 36's probes: which FaceCam-mini design learns to render a face in the CPU budget.

Every design sees the same data (the scale recipe's 768 training samples: 16 studio heads x 48,
its data rules, anchor landmark conditions) and is scored on the same held-out scenes (held-out
heads 0-3 at scale 1 along five moves, conditioned as the shipped models are), for a wall-clock
budget on a fixed number of threads:

* ``unet``: a pixel-space conv UNet (diffusers ``UNet2DModel``, channels 16-32-64-128, attention
  at 12 x 12), input ``[noisy target | source frame | landmark condition]`` on channels, frame by
  frame; it predicts the clean frame (x0) under flow matching, timesteps logit-normal leaning to
  high noise;
* ``warp``: the same UNet predicting a flow field, a blend weight and colours: the clean frame is
  the source warped by the flow (``grid_sample``) blended with the colours, so the source's pixels
  are carried, not re-painted; ``warpcopy`` starts it as a copy of the source;
* ``anchor``: a flow predicted from the source and the condition alone (no noise) warps the source
  into an anchor frame, regressed on the target directly; diffusion predicts only the residual;
* ``latent``: a UNet on the shipped VAE's latents (32 x 24 x 24, 16x fewer positions), the source
  and condition latents on channels, x0 prediction, decoded by the VAE; ``latentres`` predicts
  x0 as the source's latent plus a residual (starts as a copy); ``latentreg`` trains at s = 1
  only (a regression); ``latentmix`` a third of its samples at s = 1;
* ``latentmixsmall``: ``latentmix`` with channels 32-64-128 (2.77 M parameters against 11.0 M):
  the budget's candidate, trained two at a time on one thread each as ``train-mini`` would;
* ``latentrefine``: a small UNet regresses the clean latent from the source and condition, and a
  diffusion UNet predicts x0 as that anchor plus a residual.

Every run keeps an EMA of its weights and scores it beside the raw ones (and saves it,
``ema.pt``): ``rescore`` scores it with other samplers (:func:`sample`'s ``start``), ``gate`` on
the gate's 12 held-out heads with bootstrap intervals.

    .venv/bin/python tools/mini_probe.py data                       # studio, samples, scenes (once)
    .venv/bin/python tools/mini_probe.py train unet --minutes 20 --threads 1
    .venv/bin/python tools/mini_probe.py rescore latentrefine --starts 1.0 0.4 --steps 8
    .venv/bin/python tools/mini_probe.py gate latentrefine --steps 8 --start 0.4

Each run writes ``outputs/probe36/<design>/result.json``: PSNR against the truth, MediaPipe's face
rate against the truth's, the source-swap gap at sigma 0.9 (how much worse the clean estimate gets
given another head's source: about 0 means the source is not read), seconds a step, steps, and a
figure (source, condition, truth, generated) to look at.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WORK = Path("outputs/probe36")
MOVES = ("orbit_left", "orbit_up", "dolly_in", "truck_right", "pedestal_up")
HEADS = 4
STEPS = 20


def build_data(work: Path = WORK) -> None:
    """The scale recipe's training studio and samples (uint8), and the held-out scenes."""
    from facecam_kit.data.dataset import StudioDataset
    from facecam_kit.mini import recipe, stages, studio_vae

    r = recipe.SCALE
    work.mkdir(parents=True, exist_ok=True)
    train_root, _ = studio_vae.make_mini_studios(work, held_out=False, recipe=r)
    # the samples train-mini's latent cache holds (stages.build_mini_cache)
    ds = StudioDataset(
        train_root, r.num_frames, r.samples_per_capture, True, seed=recipe.SEED,
        scene_scale_range=tuple(r.scene_scale_range), **stages.data_rules(r),
    )  # fmt: skip
    to8 = lambda v: ((v.numpy() + 1) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)  # (F, 3, H, W)
    items = {k: [] for k in ("source", "target", "condition")}
    for i in range(len(ds)):
        item = ds[i]
        for k in items:
            items[k].append(to8(item[k]))
    heads = np.arange(len(ds)) // r.samples_per_capture
    np.savez(work / "samples.npz", heads=heads, **{k: np.stack(v) for k, v in items.items()})
    scenes, _ = r.sweep_scenes(HEADS, MOVES, (), (1.0,))
    np.savez(
        work / "scenes.npz",
        **{k: np.stack([getattr(s, k) for s in scenes]) for k in ("source", "target", "condition")},
        heads=np.array([s.head for s in scenes]),
        moves=np.array([s.trajectory for s in scenes]),
    )
    print(f"{len(ds)} samples of {heads.max() + 1} heads, {len(scenes)} held-out scenes")


# -- designs -----------------------------------------------------------------------------------


def _unet(in_ch: int, out_ch: int, size: int, channels=(16, 32, 64, 128)):
    from diffusers import UNet2DModel

    n = len(channels)
    return UNet2DModel(
        sample_size=size,
        in_channels=in_ch,
        out_channels=out_ch,
        block_out_channels=channels,
        down_block_types=("DownBlock2D",) * (n - 1) + ("AttnDownBlock2D",),
        up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (n - 1),
        layers_per_block=1,
        attention_head_dim=32,
        norm_num_groups=8,
    )


class PixelUNet(torch.nn.Module):
    """x0 of a frame from [x_t | source | condition] (B, 9, S, S) in [-1, 1]."""

    def __init__(self, size: int = 96):
        super().__init__()
        self.net = _unet(9, 3, size)

    def forward(self, xt, source, condition, s):
        return self.net(torch.cat([xt, source, condition], 1), s * 1000).sample


class WarpUNet(torch.nn.Module):
    """x0 = a * source warped by a predicted flow + (1 - a) * predicted colours. ``copy``: start as a
    copy of the source (flow 0, a = 0.98, colours 0: the last layer zeroed, a's bias 4), so training
    starts from copying and learns where to move it."""

    def __init__(self, size: int = 96, copy: bool = False):
        super().__init__()
        self.net = _unet(9, 6, size)
        if copy:
            torch.nn.init.zeros_(self.net.conv_out.weight)
            with torch.no_grad():
                self.net.conv_out.bias.copy_(torch.tensor([0.0, 0.0, 4.0, 0.0, 0.0, 0.0]))
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys], -1)[None], persistent=False)

    def forward(self, xt, source, condition, s):
        out = self.net(torch.cat([xt, source, condition], 1), s * 1000).sample
        flow, alpha, rgb = out[:, :2], torch.sigmoid(out[:, 2:3]), out[:, 3:]
        warped = F.grid_sample(source, self.grid + flow.permute(0, 2, 3, 1), align_corners=True, padding_mode="border")
        return alpha * warped + (1 - alpha) * rgb


class AnchorUNet(torch.nn.Module):
    """A deterministic anchor, then diffusion on what it misses: a UNet reads [source | condition]
    (no noise) and predicts a smooth flow (at a quarter of the resolution, upsampled) that warps the
    source into an anchor frame, trained directly against the target (``anchor_loss``); a second
    UNet reads [x_t | anchor | condition] and predicts x0 as the anchor plus a residual. Both last
    layers start at zero: the model starts as a copy of the source."""

    def __init__(self, size: int = 96):
        super().__init__()
        self.warper = _unet(6, 2, size)
        self.net = _unet(9, 3, size)
        for last in (self.warper.conv_out, self.net.conv_out):
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys], -1)[None], persistent=False)

    def anchor(self, source, condition):
        zero = torch.zeros(len(source))
        flow = self.warper(torch.cat([source, condition], 1), zero).sample
        flow = F.interpolate(F.avg_pool2d(flow, 4), size=source.shape[-2:], mode="bilinear", align_corners=False)
        return F.grid_sample(source, self.grid + flow.permute(0, 2, 3, 1), align_corners=True, padding_mode="border")

    def forward(self, xt, source, condition, s):
        a = self.anchor(source, condition)
        return a + self.net(torch.cat([xt, a, condition], 1), s * 1000).sample

    def anchor_loss(self, source, condition, x0):
        return F.mse_loss(self.anchor(source, condition), x0)


class LatentUNet(torch.nn.Module):
    """x0 of a latent frame from [z_t | source latent | condition latent] (B, 96, 24, 24).
    ``residual``: x0 is the source latent plus the network's output, its last layer zeroed, so the
    model starts as a copy of the source."""

    def __init__(self, channels: int = 32, size: int = 24, residual: bool = False, widths=(64, 128, 256)):
        super().__init__()
        self.net = _unet(3 * channels, channels, size, widths)
        self.residual = residual
        if residual:
            torch.nn.init.zeros_(self.net.conv_out.weight)
            torch.nn.init.zeros_(self.net.conv_out.bias)

    def forward(self, xt, source, condition, s):
        out = self.net(torch.cat([xt, source, condition], 1), s * 1000).sample
        return source + out if self.residual else out


class LatentRefine(torch.nn.Module):
    """Regress, then refine: a small UNet regresses the clean latent from [source | condition] alone
    (the conditional mean: the right place and colours, blurred), and a diffusion UNet reads
    [z_t | that anchor | source | condition] and predicts x0 as the anchor plus a residual (its last
    layer zeroed: the model starts as the regression). The anchor is detached for the refiner."""

    def __init__(self, channels: int = 32, size: int = 24):
        super().__init__()
        self.regress = _unet(2 * channels, channels, size, (32, 64, 128))
        self.net = _unet(4 * channels, channels, size, (64, 128, 256))
        torch.nn.init.zeros_(self.net.conv_out.weight)
        torch.nn.init.zeros_(self.net.conv_out.bias)

    def anchor(self, source, condition):
        return self.regress(torch.cat([source, condition], 1), torch.zeros(len(source))).sample

    def refine(self, xt, anchor, source, condition, s):
        return anchor + self.net(torch.cat([xt, anchor, source, condition], 1), s * 1000).sample

    def forward(self, xt, source, condition, s):
        return self.refine(xt, self.anchor(source, condition), source, condition, s)

    def training_loss(self, xt, source, condition, s, x0):
        a = self.anchor(source, condition)
        return F.mse_loss(a, x0) + F.mse_loss(self.refine(xt, a.detach(), source, condition, s), x0)


DESIGNS = {
    "unet": PixelUNet,
    "warp": WarpUNet,
    "warpcopy": lambda: WarpUNet(copy=True),
    "anchor": AnchorUNet,
    "latent": LatentUNet,
    "latentres": lambda: LatentUNet(residual=True),
    "latentreg": LatentUNet,
    "latentrefine": LatentRefine,
    "latentmix": LatentUNet,
    # the budget's candidate: latentmix at a quarter of the width's cost (2.77 M parameters, 11 MB)
    "latentmixsmall": lambda: LatentUNet(widths=(32, 64, 128)),
}


# -- data as each design sees it ------------------------------------------------------------------


def _frames(videos: np.ndarray) -> torch.Tensor:
    """(N, F, 3, S, S) uint8 -> (N, F, 3, S, S) float in [-1, 1]."""
    return torch.from_numpy(videos).float() / 127.5 - 1


def _pipe():
    """The shipped mini VAE (``data_samples/facecam_mini/landmarks/vae``), what the latent designs encode with."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.models import MINI_DIR

    return AutoencoderKLWan.from_pretrained(MINI_DIR / "landmarks" / "vae").eval()


def encode(vae, videos: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """(N, F, 3, S, S) in [-1, 1] -> (N, F, C, s, s) normalised latents (time / 1: a latent a frame)."""
    from facecam_kit.model.pipeline import normalise_latents

    with torch.no_grad():
        parts = [
            normalise_latents(vae, vae.encode(videos[i : i + batch].permute(0, 2, 1, 3, 4)).latent_dist.mode())
            for i in range(0, len(videos), batch)
        ]
    return torch.cat(parts).permute(0, 2, 1, 3, 4)


def decode(vae, latents: torch.Tensor) -> np.ndarray:
    """(N, F, C, s, s) latents -> (N, F, S, S, 3) uint8."""
    from facecam_kit.model.pipeline import normalise_latents

    with torch.no_grad():
        v = vae.decode(normalise_latents(vae, latents.permute(0, 2, 1, 3, 4), inverse=True)).sample
    return ((v.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()


def pixels_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, F, 3, S, S) frames in [-1, 1] -> (N, F, S, S, 3) uint8: the pixel designs' decoder."""
    return ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()


def load_ema(design: str, out: Path):
    """A finished probe's EMA weights (``out/ema.pt``) in a fresh model of ``design``, in eval mode."""
    model = DESIGNS[design]()
    model.load_state_dict(torch.load(out / "ema.pt", weights_only=True))
    return model.eval()


def load_space(design: str, work: Path = WORK):
    """Training tensors (N, F, C, H, W), their heads (N,), the scenes' tensors and a decoder to uint8."""
    samples, scenes = np.load(work / "samples.npz"), np.load(work / "scenes.npz")
    train = {k: _frames(samples[k]) for k in ("source", "target", "condition")}
    test = {k: _frames(scenes[k].transpose(0, 1, 4, 2, 3)) for k in ("source", "target", "condition")}
    if not design.startswith("latent"):
        return train, samples["heads"], test, scenes, pixels_to_uint8
    cache = work / "latents.pt"
    if cache.exists():
        train, test = torch.load(cache, weights_only=True)
    else:
        pipe = _pipe()
        t0 = time.perf_counter()
        train = {k: encode(pipe, v) for k, v in train.items()}
        test = {k: encode(pipe, v) for k, v in test.items()}
        torch.save((train, test), cache)
        print(f"encoded the latents in {time.perf_counter() - t0:.0f} s")
    pipe = _pipe()
    return train, samples["heads"], test, scenes, lambda z: decode(pipe, z)


# -- training and scoring ----------------------------------------------------------------------------


def draw_sigma(n: int, g: torch.Generator) -> torch.Tensor:
    """Logit-normal noise levels leaning high: sigmoid(N(0.5, 1)) (median 0.62)."""
    return torch.sigmoid(0.5 + torch.randn(n, generator=g))


def pure_noise(n: int, g: torch.Generator) -> torch.Tensor:
    """s = 1 only: the model regresses the clean frame from the source and condition (its input x_t
    is pure noise), the conditional mean every sampler starts from; no denoising is learnt."""
    return torch.ones(n)


def mean_and_flow(n: int, g: torch.Generator) -> torch.Tensor:
    """A third of the samples at s = 1 (the conditional mean, which :func:`draw_sigma` almost never
    draws: s >= 0.95 in 0.7% of draws), the rest from :func:`draw_sigma`: the kit's objective
    (``facecam_kit.mini.unet_training.draw_sigmas``, the same draws in the same order)."""
    from facecam_kit.mini.unet_training import draw_sigmas

    return draw_sigmas(n, 1 / 3, g)


#: the noise levels a design trains on (default :func:`draw_sigma`)
SIGMAS = {"latentreg": pure_noise, "latentmix": mean_and_flow, "latentmixsmall": mean_and_flow}


def sample(model, source, condition, seed: int = 0, steps: int = STEPS, start: float = 1.0) -> torch.Tensor:
    """Euler on the flow from noise (s = 1) to s = 0, the model's x0 giving the velocity. (B, C, H, W).
    ``start`` < 1: one step from 1 to ``start`` (which lands on ``start`` noise around the clean
    estimate at s = 1, the conditional mean), then ``steps - 1`` even steps to 0: the sampler keeps
    the mean's layout and only the last ``start`` of the flow adds detail."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(source.shape, generator=g)
    levels = torch.linspace(1.0, 0.0, steps + 1)
    if start < 1:
        levels = torch.cat([torch.ones(1), torch.linspace(start, 0.0, steps)])
    with torch.no_grad():
        for s, s_next in zip(levels[:-1], levels[1:]):
            x0 = model(x, source, condition, s.expand(len(x)))
            x = x + (s_next - s) * (x - x0) / s
    return x


def swap_gap(model, test: dict, heads: np.ndarray, sigma: float = 0.9, seed: int = 0) -> float:
    """How much worse the clean estimate at ``sigma`` gets given another head's source (same move):
    (error swapped - error own) / error own, over every frame of every scene."""
    g = torch.Generator().manual_seed(seed)
    n = len(heads)
    partner = np.array([(i + len(MOVES)) % n for i in range(n)])  # the next head's scene of the same move
    x0, src, cond = (test[k].flatten(0, 1) for k in ("target", "source", "condition"))
    other = test["source"][partner].flatten(0, 1)
    xt = (1 - sigma) * x0 + sigma * torch.randn(x0.shape, generator=g)
    s = torch.full((len(x0),), sigma)
    with torch.no_grad():
        own = ((model(xt, src, cond, s) - x0) ** 2).mean()
        swapped = ((model(xt, other, cond, s) - x0) ** 2).mean()
    return float((swapped - own) / own)


def evaluate(model, test: dict, scenes, to8, seed: int = 0, steps: int = STEPS, start: float = 1.0) -> dict:
    """PSNR and face rate of ``steps``-step samples (:func:`sample`); with ``steps=1``, the clean
    estimate at s = 1."""
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.mini.experiment import faces_found

    model.eval()
    n = test["target"].shape[0]
    made = [sample(model, test["source"][i], test["condition"][i], seed + i, steps, start) for i in range(n)]
    clips = to8(torch.stack(made))
    truth = scenes["target"]
    return {
        "psnr_db": float(np.mean([psnr(c, t) for c, t in zip(clips, truth)])),
        "faces": float(np.mean([faces_found(c).mean() for c in clips])),
        "clips": clips,
    }


def score(model, test: dict, scenes, to8, seed: int = 0) -> dict:
    """The probe's scores: 20-step samples (the figure's), 4-step ones and the one-step clean estimate,
    the swap gap and the controls."""
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.mini.experiment import faces_found

    r = evaluate(model, test, scenes, to8, seed)
    for steps in (4, 1):
        e = evaluate(model, test, scenes, to8, seed, steps)
        r |= {f"psnr_db_{steps}step": e["psnr_db"], f"faces_{steps}step": e["faces"]}
    truth = scenes["target"]
    return r | {
        "faces_truth": float(np.mean([faces_found(c).mean() for c in truth])),
        "swap_gap_s09": swap_gap(model, test, scenes["heads"]),
        "copy_psnr_db": float(np.mean([psnr(s, t) for s, t in zip(scenes["source"], truth)])),
        # the ceiling: the truth through the design's own space (the VAE round trip for latents)
        "ceiling_psnr_db": float(np.mean([psnr(c, t) for c, t in zip(to8(test["target"]), truth)])),
    }


def figure(clips, scenes, path: Path, shown=(0, 2, 5, 12)) -> None:
    """Rows: source, condition, truth, generated (frames 0, 2, 4) of four scenes."""
    import imageio.v3 as iio

    rows = []
    for i in shown:
        parts = [scenes[k][i][[0, 2, 4]] for k in ("source", "condition", "target")] + [clips[i][[0, 2, 4]]]
        rows.append(np.concatenate([np.concatenate(list(p), 1) for p in parts], 1))
    iio.imwrite(path, np.concatenate(rows, 0))


def train(
    design: str, minutes: float, threads: int, batch: int = 8, lr: float = 5e-4, seed: int = 0, name: str = ""
) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out = WORK / (name or design)
    out.mkdir(parents=True, exist_ok=True)
    train_set, heads, test, scenes, to8 = load_space(design)
    model = DESIGNS[design]()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    from facecam_kit.mini.unet_training import ema_average  # the kit's EMA, with its warm-up

    ema = torch.optim.swa_utils.AveragedModel(model, avg_fn=ema_average)
    g = torch.Generator().manual_seed(seed)
    n, f = train_set["target"].shape[:2]
    log, step, t0 = [], 0, time.perf_counter()
    checkpoints = sorted({minutes / 4, minutes / 2, minutes})
    results = []
    while True:
        model.train()
        idx = torch.randint(n, (batch,), generator=g)
        fr = torch.randint(f, (batch,), generator=g)
        x0, src, cond = (train_set[k][idx, fr] for k in ("target", "source", "condition"))
        s = SIGMAS.get(design, draw_sigma)(batch, g)
        xt = (1 - s.view(-1, 1, 1, 1)) * x0 + s.view(-1, 1, 1, 1) * torch.randn(x0.shape, generator=g)
        if hasattr(model, "training_loss"):
            loss = model.training_loss(xt, src, cond, s, x0)
        else:
            loss = F.mse_loss(model(xt, src, cond, s), x0)
        if hasattr(model, "anchor_loss"):
            loss = loss + model.anchor_loss(src, cond, x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update_parameters(model)
        step += 1
        log.append(loss.item())
        elapsed = (time.perf_counter() - t0) / 60
        if checkpoints and elapsed >= checkpoints[0]:
            checkpoints.pop(0)
            train_s = time.perf_counter() - t0
            r = score(model, test, scenes, to8)
            clips = r.pop("clips")
            e = score(ema.module, test, scenes, to8)
            figure(e.pop("clips"), scenes, out / f"frames_ema_{step:05d}.png")
            r |= {f"ema_{k}": v for k, v in e.items() if k.startswith(("psnr", "faces_", "swap")) or k == "faces"}
            r |= {"minutes": round(elapsed, 1), "steps": step, "s_per_step": train_s / step,
                  "loss_last_100": float(np.mean(log[-100:]))}  # fmt: skip
            results.append(r)
            print(json.dumps(r), flush=True)
            figure(clips, scenes, out / f"frames_{step:05d}.png")
            t0 += time.perf_counter() - t0 - train_s  # scoring time is not training time
            if not checkpoints:
                break
    torch.save(ema.module.state_dict(), out / "ema.pt")
    summary = {"design": design, "seed": seed, "parameters": params, "threads": threads, "batch": batch, "lr": lr}
    summary["results"] = results
    (out / "result.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def rescore(design: str, name: str = "", starts=(1.0, 0.6, 0.4, 0.2), steps: int = 8, threads: int = 2) -> list:
    """A finished probe's EMA weights on the probe's scenes with other samplers (:func:`sample`'s
    ``start``), written to ``samplers.json`` with a figure each."""
    torch.set_num_threads(threads)
    out = WORK / (name or design)
    _, _, test, scenes, to8 = load_space(design)
    model = load_ema(design, out)
    rows = []
    for start in starts:
        r = evaluate(model, test, scenes, to8, steps=steps, start=start)
        figure(r.pop("clips"), scenes, out / f"frames_ema_start{start}.png")
        rows.append(r | {"start": start, "steps": steps})
        print(json.dumps(rows[-1]), flush=True)
    (out / "samplers.json").write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def gate(
    design: str, name: str = "", heads: int = 12, steps: int = STEPS, start: float = 1.0, threads: int = 2
) -> dict:
    """Issue 36's gate on a probe's EMA weights: held-out heads 0..heads-1 at scale 1 along the probe's
    five moves; mean PSNR and face rate with 95% bootstrap intervals over scenes, the copy control
    and the truth's face rate beside them."""
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.evaluation.stats import paired_bootstrap
    from facecam_kit.mini import recipe
    from facecam_kit.mini.experiment import faces_found

    torch.set_num_threads(threads)
    out = WORK / (name or design)
    model = load_ema(design, out)
    made, _ = recipe.SCALE.sweep_scenes(heads, MOVES, (), (1.0,))
    scenes = {k: np.stack([getattr(sc, k) for sc in made]) for k in ("source", "target", "condition")}
    test = {k: _frames(v.transpose(0, 1, 4, 2, 3)) for k, v in scenes.items()}
    if design.startswith("latent"):
        pipe = _pipe()
        test = {k: encode(pipe, v) for k, v in test.items()}
        to8 = lambda z: decode(pipe, z)
    else:
        to8 = pixels_to_uint8
    clips = evaluate(model, test, scenes, to8, steps=steps, start=start)["clips"]
    truth = scenes["target"]
    per = {
        "psnr_db": [psnr(c, t) for c, t in zip(clips, truth)],
        "faces": [faces_found(c).mean() for c in clips],
        "faces_truth": [faces_found(c).mean() for c in truth],
        "copy_psnr_db": [psnr(sc, t) for sc, t in zip(scenes["source"], truth)],
    }
    r = {k: paired_bootstrap(v) for k, v in per.items()}
    r["psnr_minus_copy_db"] = paired_bootstrap(per["psnr_db"], per["copy_psnr_db"])
    r["per_scene"] = {k: [float(x) for x in v] for k, v in per.items()}
    r |= {"scenes": len(made), "heads": heads, "steps": steps, "start": start, "design": design, "run": name or design}
    r["passes"] = r["psnr_db"]["mean"] >= 18 and r["faces"]["mean"] >= 0.8 * r["faces_truth"]["mean"]
    tag = f"gate_{heads}heads_{steps}steps_start{start}"
    figure(clips, scenes | {"target": truth}, out / f"{tag}.png", shown=(0, 12, 27, 43, 58))
    (out / f"{tag}.json").write_text(json.dumps(r, indent=1) + "\n")
    print(json.dumps(r))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("data")
    t = sub.add_parser("train")
    t.add_argument("design", choices=DESIGNS)
    t.add_argument("--minutes", type=float, default=20.0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--name", default="", help="the run's folder under outputs/probe36 (default: the design)")
    t.add_argument("--seed", type=int, default=0, help="the weights' and the training draws' seed")
    rs = sub.add_parser("rescore", help="score a finished probe's EMA weights with other samplers")
    rs.add_argument("design", choices=DESIGNS)
    rs.add_argument("--name", default="")
    rs.add_argument("--starts", type=float, nargs="+", default=[1.0, 0.6, 0.4, 0.2])
    rs.add_argument("--steps", type=int, default=8)
    rs.add_argument("--threads", type=int, default=2)
    gt = sub.add_parser("gate", help="score a finished probe's EMA weights on the gate's 12 held-out heads")
    gt.add_argument("design", choices=DESIGNS)
    gt.add_argument("--name", default="")
    gt.add_argument("--steps", type=int, default=STEPS)
    gt.add_argument("--start", type=float, default=1.0)
    args = ap.parse_args()
    if args.cmd == "data":
        build_data()
    elif args.cmd == "rescore":
        rescore(args.design, args.name, args.starts, args.steps, args.threads)
    elif args.cmd == "gate":
        gate(args.design, args.name, steps=args.steps, start=args.start)
    else:
        train(args.design, args.minutes, args.threads, args.batch, args.lr, args.seed, args.name)


if __name__ == "__main__":
    main()
