"""Training one FaceCam-mini arm: a :class:`~facecam_kit.mini.unet.MiniUNet` on the latent cache, frame by frame.

The objective issue 36's probes chose (``docs/mini_probes.md``), the same for every arm:

* a step draws ``batch`` (sample, frame) pairs from the latent cache
  (:func:`facecam_kit.train.cache.build_cache`: every arm reads the same samples) and, per pair,
  a noise level ``s``: 1 for a third of them (``mean_share``: the network learns the conditional
  mean, which the sampler's first step lands on), the rest ``sigmoid(N(0.5, 1))``, leaning to
  high noise, where the source matters most;
* ``x_t = (1 - s) x0 + s eps`` on the target latent; the loss is the MSE of the predicted clean
  latent (x0 prediction: at s = 1 it is a regression, elsewhere it denoises);
* AdamW at a constant learning rate; an exponential moving average of the weights (decay
  ``min(0.999, (1 + n) / (10 + n))``) is what is saved and shipped: it scored 1-4 dB above the raw
  weights in every probe;
* every random number of step ``n`` comes from a generator seeded by ``(seed, n)``, so a run
  resumed from its checkpoint draws what an uninterrupted one would.

``python -m facecam_kit.mini.unet_training RUN.json`` trains one :class:`MiniRun` (train-mini
starts one process per arm and seed, :mod:`facecam_kit.mini.stages`), writing into its
``output_dir``: ``checkpoint.pt`` (every ``checkpoint_every`` steps, for resuming), ``unet/`` (the
EMA weights, ``save_pretrained``) and ``record.json`` (the loss curve, seconds, threads: the run is
done when it exists).

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from facecam_kit.mini.recipe import SHIPPED
from facecam_kit.mini.unet import MiniUNet, camera_layout
from facecam_kit.train.cache import CachedLatents
from facecam_kit.train.objective import CAMERA_KEYS, camera_condition


@dataclass
class MiniRun:
    """One arm's training: its camera (as ``TrainConfig``'s ``camera_kind``, ``camera_intrinsics``,
    ``camera_units``), the network's widths, and the optimisation (module docstring); the numbers
    default to the shipped recipe's (``train-mini`` sets them from its recipe, ``stages.unet_run``)."""

    cache_dir: str
    output_dir: str
    camera_kind: str = "landmarks"
    camera_intrinsics: bool = False
    camera_units: str = "metric"
    block_out_channels: tuple[int, ...] = SHIPPED.unet_widths
    steps: int = SHIPPED.unet_steps
    batch: int = SHIPPED.unet_batch
    lr: float = SHIPPED.unet_lr
    mean_share: float = SHIPPED.mean_share
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    progress: bool = True

    @classmethod
    def load(cls, path: Path) -> MiniRun:
        data = json.loads(Path(path).read_text())
        data["block_out_channels"] = tuple(data["block_out_channels"])
        return cls(**data)

    @property
    def keys(self) -> list[str]:
        """The cache keys this arm reads: the latents and its camera (the extrinsics' told numbers)."""
        told = {"intrinsics": self.camera_intrinsics, "scene_scale": self.camera_units == "head"}
        return ["source", "target", CAMERA_KEYS[self.camera_kind], *(k for k, wanted in told.items() if wanted)]


def load_cache(cache_dir, keys) -> dict[str, torch.Tensor]:
    """The ``keys`` of every sample of a latent cache, stacked in memory: key -> (N, ...) float32."""
    cache = CachedLatents(cache_dir)
    if missing := [k for k in keys if k not in cache.keys]:
        raise ValueError(f"latent cache {cache_dir} has no {', '.join(missing)}: rebuild it (train-mini's cache stage)")
    items = [cache[i] for i in range(len(cache))]
    return {k: torch.stack([it[k] for it in items]).float() for k in keys}


def make_unet(run: MiniRun, data: dict[str, torch.Tensor]) -> MiniUNet:
    """The arm's network, sized from the cached latents (z channels, h) and its camera, initialised
    from its seed."""
    z, _, h = data["target"].shape[1:4]
    torch.manual_seed(run.seed)
    dim = 20 if run.camera_intrinsics else 12
    layout = camera_layout(run.camera_kind, z, dim)
    return MiniUNet(latent_channels=z, sample_size=h, block_out_channels=run.block_out_channels, **layout)


def draw_sigmas(n: int, mean_share: float, g: torch.Generator) -> torch.Tensor:
    """Noise levels (n,): 1 with probability ``mean_share``, else sigmoid(N(0.5, 1)) (median 0.62)."""
    at_one = torch.rand(n, generator=g) < mean_share
    return torch.where(at_one, torch.ones(n), torch.sigmoid(0.5 + torch.randn(n, generator=g)))


def step_batch(run: MiniRun, data: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
    """Step ``step``'s training pairs, drawn from a generator seeded by (seed, step): the noisy target
    ``x_t``, ``source``, ``camera`` (per frame), ``sigma`` (B,) and the clean target ``x0``."""
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([run.seed, step]).generate_state(1)[0]))
    n, f = data["target"].shape[0], data["target"].shape[2]
    idx = torch.randint(n, (run.batch,), generator=g)
    frame = torch.randint(f, (run.batch,), generator=g)
    sigma = draw_sigmas(run.batch, run.mean_share, g)
    x0 = data["target"][idx, :, frame]  # (B, z, h, w): each pair's frame
    noise = torch.randn(x0.shape, generator=g)
    s = sigma.view(-1, 1, 1, 1)
    camera = camera_condition(run, {k: data[k][idx] for k in run.keys[2:]})  # (B, F, D) or (B, C, F, h, w)
    camera = (
        camera[torch.arange(run.batch), frame]
        if run.camera_kind == "extrinsics"
        else camera[torch.arange(run.batch), :, frame]
    )
    return {
        "x_t": (1 - s) * x0 + s * noise,
        "source": data["source"][idx, :, frame],
        "camera": camera,
        "sigma": sigma,
        "x0": x0,
    }


def loss_of(unet: MiniUNet, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The MSE of the predicted clean latent (module docstring)."""
    x0 = unet(batch["x_t"], batch["sigma"] * 1000, batch["source"], batch["camera"], return_dict=False)[0]
    return F.mse_loss(x0, batch["x0"])


def ema_average(averaged: torch.Tensor, current: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
    """The EMA's update, decay ``min(0.999, (1 + n) / (10 + n))``: the warm-up keeps the random start
    from lingering in the average."""
    decay = min(0.999, (1 + int(num)) / (10 + int(num)))
    return decay * averaged + (1 - decay) * current


def train_run(run: MiniRun, data: dict[str, torch.Tensor] | None = None, device: str = "cpu") -> Path:
    """Train ``run`` (resuming from its checkpoint), save the EMA network and ``record.json``; returns
    ``output_dir``. ``data``: the loaded cache (default: read from ``run.cache_dir``); ``device``:
    where the network trains (the draws are made on the CPU, so a run is the same numbers anywhere)."""
    out = Path(run.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_cache(run.cache_dir, run.keys) if data is None else data
    unet = make_unet(run, data).to(device)
    opt = torch.optim.AdamW(unet.parameters(), lr=run.lr, weight_decay=0.0)
    ema = torch.optim.swa_utils.AveragedModel(unet, avg_fn=ema_average)
    step, history, seconds = 0, [], 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True, map_location=device)
        unet.load_state_dict(state["unet"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step, history, seconds = state["step"], state["history"], state["seconds"]
    unet.train()
    losses = []
    bar = tqdm(total=run.steps, initial=step, desc=out.name, disable=not run.progress, mininterval=5)
    t0 = time.perf_counter()
    while step < run.steps:
        loss = loss_of(unet, {k: v.to(device) for k, v in step_batch(run, data, step).items()})
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update_parameters(unet)
        step += 1
        losses.append(loss.item())
        bar.update()
        if step % run.log_every == 0 or step == run.steps:
            history.append({"step": step, "loss": float(np.mean(losses))})
            losses = []
        if step % run.checkpoint_every == 0 or step == run.steps:
            elapsed = seconds + time.perf_counter() - t0
            state = {"unet": unet.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict()}
            torch.save(state | {"step": step, "history": history, "seconds": elapsed}, out / "checkpoint.tmp")
            (out / "checkpoint.tmp").replace(ckpt)
    bar.close()
    seconds += time.perf_counter() - t0
    ema.module.save_pretrained(out / "unet")
    record = {"run": asdict(run), "steps": step, "seconds": round(seconds, 1), "threads": torch.get_num_threads()}
    (out / "record.json").write_text(json.dumps(record | {"history": history}) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m facecam_kit.mini.unet_training RUN.json``: train the :class:`MiniRun` it holds."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print("error: give one MiniRun JSON file: python -m facecam_kit.mini.unet_training RUN.json", file=sys.stderr)
        return 2
    train_run(MiniRun.load(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
