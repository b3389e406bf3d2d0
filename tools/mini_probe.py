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
  and condition latents on channels, x0 prediction, decoded by the VAE.

    .venv/bin/python tools/mini_probe.py data                       # studio, samples, scenes (once)
    .venv/bin/python tools/mini_probe.py train unet --minutes 20 --threads 1

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
    from facecam_kit.data.dataset import StudioDataset, resolve_options
    from facecam_kit.mini import recipe
    from facecam_kit.mini.models import MINI_DIR

    r = recipe.SCALE
    work.mkdir(parents=True, exist_ok=True)
    recipe.make_mini_studios(work, held_out=False, recipe=r)
    c = recipe.dit_config(work, "landmarks", recipe=r, vae=str(MINI_DIR / "landmarks" / "vae"), progress=False)
    rules = resolve_options(c.data_kind, c.data_options, c.camera_kind, c.augment, c.camera_intrinsics)
    ds = StudioDataset(
        c.data_root, c.num_frames, c.samples_per_item, c.augment, seed=c.data_seed,
        scene_scale_range=tuple(c.scene_scale_range), **rules,
    )  # fmt: skip
    to8 = lambda v: ((v.numpy() + 1) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)  # (F, 3, H, W)
    items = {k: [] for k in ("source", "target", "condition")}
    for i in range(len(ds)):
        item = ds[i]
        for k in items:
            items[k].append(to8(item[k]))
    heads = np.arange(len(ds)) // c.samples_per_item
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
    """x0 of a latent frame from [z_t | source latent | condition latent] (B, 96, 24, 24)."""

    def __init__(self, channels: int = 32, size: int = 24):
        super().__init__()
        self.net = _unet(3 * channels, channels, size, (64, 128, 256))

    def forward(self, xt, source, condition, s):
        return self.net(torch.cat([xt, source, condition], 1), s * 1000).sample


DESIGNS = {
    "unet": PixelUNet,
    "warp": WarpUNet,
    "warpcopy": lambda: WarpUNet(copy=True),
    "anchor": AnchorUNet,
    "latent": LatentUNet,
}


# -- data as each design sees it ------------------------------------------------------------------


def _frames(videos: np.ndarray) -> torch.Tensor:
    """(N, F, 3, S, S) uint8 -> (N, F, 3, S, S) float in [-1, 1]."""
    return torch.from_numpy(videos).float() / 127.5 - 1


def _pipe():
    from facecam_kit.mini.models import load_mini_pipeline

    return load_mini_pipeline("landmarks")


def encode(pipe, videos: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """(N, F, 3, S, S) in [-1, 1] -> (N, F, C, s, s) normalised latents (time / 1: a latent a frame)."""
    with torch.no_grad():
        parts = [pipe.encode_video(videos[i : i + batch].permute(0, 2, 1, 3, 4)) for i in range(0, len(videos), batch)]
    return torch.cat(parts).permute(0, 2, 1, 3, 4)


def decode(pipe, latents: torch.Tensor) -> np.ndarray:
    """(N, F, C, s, s) latents -> (N, F, S, S, 3) uint8."""
    with torch.no_grad():
        v = pipe.vae.decode(pipe._normalise(latents.permute(0, 2, 1, 3, 4), inverse=True)).sample
    return ((v.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()


def load_space(design: str, work: Path = WORK):
    """Training tensors (N, F, C, H, W), their heads (N,), the scenes' tensors and a decoder to uint8."""
    samples, scenes = np.load(work / "samples.npz"), np.load(work / "scenes.npz")
    train = {k: _frames(samples[k]) for k in ("source", "target", "condition")}
    test = {k: _frames(scenes[k].transpose(0, 1, 4, 2, 3)) for k in ("source", "target", "condition")}
    if design != "latent":
        to8 = lambda x: ((x.clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
        return train, samples["heads"], test, scenes, to8
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


def sample(model, source, condition, seed: int = 0, steps: int = STEPS) -> torch.Tensor:
    """Euler on the flow from noise (s = 1) to s = 0, the model's x0 giving the velocity. (B, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(source.shape, generator=g)
    levels = torch.linspace(1.0, 0.0, steps + 1)
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


def evaluate(model, test: dict, scenes, to8, seed: int = 0) -> dict:
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.mini.experiment import faces_found

    model.eval()
    n, f = test["target"].shape[:2]
    generated = []
    for i in range(n):
        x = sample(model, test["source"][i], test["condition"][i], seed + i)
        generated.append(x)
    clips = to8(torch.stack(generated))
    truth = scenes["target"]
    found = np.mean([faces_found(c).mean() for c in clips])
    found_truth = np.mean([faces_found(c).mean() for c in truth])
    return {
        "psnr_db": float(np.mean([psnr(c, t) for c, t in zip(clips, truth)])),
        "faces": float(found),
        "faces_truth": float(found_truth),
        "swap_gap_s09": swap_gap(model, test, scenes["heads"]),
        "copy_psnr_db": float(np.mean([psnr(s, t) for s, t in zip(scenes["source"], truth)])),
        # the ceiling: the truth through the design's own space (the VAE round trip for latents)
        "ceiling_psnr_db": float(np.mean([psnr(c, t) for c, t in zip(to8(test["target"]), truth)])),
        "clips": clips,
    }


def figure(clips, scenes, path: Path, shown=(0, 2, 5, 12)) -> None:
    """Rows: source, condition, truth, generated (frames 0, 2, 4) of four scenes."""
    import imageio.v3 as iio

    rows = []
    for i in shown:
        parts = [scenes[k][i][[0, 2, 4]] for k in ("source", "condition", "target")] + [clips[i][[0, 2, 4]]]
        rows.append(np.concatenate([np.concatenate(list(p), 1) for p in parts], 1))
    iio.imwrite(path, np.concatenate(rows, 0))


def train(design: str, minutes: float, threads: int, batch: int = 8, lr: float = 5e-4, seed: int = 0) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out = WORK / design
    out.mkdir(parents=True, exist_ok=True)
    train_set, heads, test, scenes, to8 = load_space(design)
    model = DESIGNS[design]()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
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
        s = draw_sigma(batch, g)
        xt = (1 - s.view(-1, 1, 1, 1)) * x0 + s.view(-1, 1, 1, 1) * torch.randn(x0.shape, generator=g)
        loss = F.mse_loss(model(xt, src, cond, s), x0)
        if hasattr(model, "anchor_loss"):
            loss = loss + model.anchor_loss(src, cond, x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        log.append(loss.item())
        elapsed = (time.perf_counter() - t0) / 60
        if checkpoints and elapsed >= checkpoints[0]:
            checkpoints.pop(0)
            train_s = time.perf_counter() - t0
            r = evaluate(model, test, scenes, to8)
            clips = r.pop("clips")
            r |= {"minutes": round(elapsed, 1), "steps": step, "s_per_step": train_s / step,
                  "loss_last_100": float(np.mean(log[-100:]))}  # fmt: skip
            results.append(r)
            print(json.dumps(r), flush=True)
            figure(clips, scenes, out / f"frames_{step:05d}.png")
            t0 += time.perf_counter() - t0 - train_s  # scoring time is not training time
            if not checkpoints:
                break
    summary = {"design": design, "parameters": params, "threads": threads, "batch": batch, "lr": lr, "results": results}
    (out / "result.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


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
    args = ap.parse_args()
    if args.cmd == "data":
        build_data()
    else:
        train(args.design, args.minutes, args.threads, args.batch, args.lr)


if __name__ == "__main__":
    main()
