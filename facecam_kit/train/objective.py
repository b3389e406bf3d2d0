"""What one training step computes, and from which random numbers: the loss and the draws.

Recipe (module :mod:`facecam_kit.train.flow_matching` states the flow-matching part): per sample a
timestep in the expert's range, ``x_t = (1 - s) x0 + s eps`` on the **target** latents, the DiT input
built by :func:`~facecam_kit.model.pipeline.dit_input` + :func:`~facecam_kit.model.pipeline.camera_inputs`
(the one place of the input layout, shared with inference), the **clean** source half (or
ReCamMaster's noised source, ``source_noise``), the prompt embedding replaced by the empty
prompt's with probability ``text_dropout``, and a weighted MSE to ``eps - x0`` on the target half
only (weighted per latent element by the valid mask with ``masked_loss``).

Determinism, so that runs can be compared:

* data order: global sample position ``p`` (``step * global_batch + ...``) maps to dataset index
  ``perm_epoch[p % N]``, a permutation seeded by (seed, epoch); rank ``r`` of ``W`` takes its
  ``batch_size`` slice of each micro-batch. The global batch is therefore the same whatever the
  number of processes, and the data position after a resume is the step;
* every random draw of a sample (timestep, noise, text dropout, source noise) comes from a
  generator seeded by (seed, p), the expert of a step (``expert: both``) from (seed, step): one
  process or many, interrupted or not, draw the same numbers.

Taught in notebook 08 (training: the objective, a short seeded run and its loss curve);
:mod:`facecam_kit.train.trainer` runs it.
"""

from __future__ import annotations

import numpy as np
import torch

from facecam_kit.model.pipeline import camera_inputs, dit_input
from facecam_kit.train.config import TrainConfig
from facecam_kit.train.flow_matching import add_noise, expert_share, sample_timesteps, velocity_target

#: camera kind -> the cached latent-cache key that holds its condition
CAMERA_KEYS = {"landmarks": "condition", "plucker": "plucker", "extrinsics": "camera"}


# -- data order and random draws --------------------------------------------------------------------
def sample_positions(step: int, micro: int, rank: int, batch_size: int, world: int, grad_accum: int) -> list[int]:
    """Global sample positions of one process's micro-batch ``micro`` in optimiser step ``step``."""
    start = step * batch_size * world * grad_accum + micro * batch_size * world + rank * batch_size
    return list(range(start, start + batch_size))


def dataset_index(position: int, num_samples: int, seed: int) -> int:
    """The dataset index of a global sample position: epoch-wise permutations seeded by (seed, epoch)."""
    epoch, offset = divmod(position, num_samples)
    return int(np.random.default_rng([seed, epoch]).permutation(num_samples)[offset])


def _generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


def step_expert(cfg: TrainConfig, step: int, single_model: bool) -> str:
    """The expert a step trains: the configured one, or with ``both`` a draw by timestep share."""
    if single_model:
        return "all" if cfg.expert == "both" else cfg.expert
    if cfg.expert != "both":
        return cfg.expert
    u = torch.rand(1, generator=_generator(cfg.seed, step, 1)).item()
    return "high" if u < expert_share("high", cfg.boundary) else "low"


def draw_sample_noise(cfg: TrainConfig, position: int, expert: str, shape) -> dict:
    """Every random number sample ``position`` needs, from its own generator (order fixed)."""
    g = _generator(cfg.seed, position)
    t, sigma, w = sample_timesteps(g, 1, expert, cfg.timestep_sampling, cfg.logit_mean, cfg.logit_std, cfg.boundary)
    out = {"t": t, "sigma": sigma, "weight": w, "noise": torch.randn(shape, generator=g)}
    out["drop_text"] = torch.rand(1, generator=g) < cfg.text_dropout
    if cfg.source_noise is not None:
        lo, hi = cfg.source_noise
        out["source_sigma"] = (lo + (hi - lo) * torch.rand(1, generator=g)) / 1000
        out["source_noise"] = torch.randn(shape, generator=g)
    return out


def flow_matching_loss(
    model, batch: dict, text: torch.Tensor, empty: torch.Tensor, cfg: TrainConfig, expert: str, positions
) -> tuple[torch.Tensor, dict]:
    """The weighted flow-matching loss of one micro-batch (recipe in the module docstring).

    batch: cached latents on the model's device, ``target``/``source``/``condition`` (B, 16, f, h, w),
    ``mask`` (B, 1, f, h, w) with ``masked_loss``, ``camera`` (B, f, 12) for extrinsics, ``plucker``
    (B, 6, f, h, w) for Plücker rays; text /
    empty: (L, D) embeddings; positions: the B global sample positions (seed the draws).
    Returns the scalar loss and per-batch statistics (mean t).
    """
    x0, source = batch["target"], batch["source"]
    draws = [draw_sample_noise(cfg, p, expert, x0.shape[1:]) for p in positions]
    cat = lambda k: torch.cat([d[k] for d in draws]).to(x0.device)
    stack = lambda k: torch.stack([d[k] for d in draws]).to(x0.device, x0.dtype)
    t, sigma, weight, noise = cat("t"), cat("sigma"), cat("weight"), stack("noise")
    xt = add_noise(x0, noise, sigma)
    if cfg.source_noise is not None:
        source = add_noise(source, stack("source_noise"), cat("source_sigma"))
    drop = cat("drop_text").view(-1, 1, 1)
    emb = torch.where(drop, empty.to(x0.device), text.to(x0.device)).to(x0.dtype)
    f = x0.shape[2]
    y, camera_kwargs = camera_inputs(cfg.camera_kind, camera_condition(cfg, batch).to(x0.dtype))
    pred = model(dit_input(xt, source, y), t, emb, return_dict=False, **camera_kwargs)[0]
    err = (pred[:, :, :f].float() - velocity_target(x0, noise).float()) ** 2  # the target half only
    if cfg.masked_loss:
        m = batch["mask"].float()
        per_sample = (err * m).mean((1, 2, 3, 4)) / m.mean((1, 2, 3, 4)).clamp_min(1e-6)
    else:
        per_sample = err.mean((1, 2, 3, 4))
    return (weight * per_sample).mean(), {"t": float(t.mean())}


def camera_condition(cfg: TrainConfig, batch: dict) -> torch.Tensor:
    """A batch's camera condition for ``cfg``'s model: the cached one, and for extrinsics with
    ``camera_units: head`` the translations divided by each sample's scene scale, with
    ``camera_intrinsics`` the (B, f, 8) intrinsics appended (B, f, 20)."""
    camera = batch[CAMERA_KEYS[cfg.camera_kind]]
    if cfg.camera_kind != "extrinsics":
        return camera
    if cfg.camera_units == "head":
        camera = camera.clone()
        camera[..., 3::4] /= batch["scene_scale"].view(-1, 1, 1).to(camera.dtype)  # t of the row-major 3x4
    if cfg.camera_intrinsics:
        camera = torch.cat([camera, batch["intrinsics"].to(camera.dtype)], -1)
    return camera
