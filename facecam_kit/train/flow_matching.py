"""Flow matching as the Wan family trains it: the shifted schedule, timestep sampling, loss weights.

The recipe (DiffSynth's ``FlowMatchSFTLoss``, the engine FaceCam's code is built on; the schedule
is the inference one of docs/official_behaviour.md, section 1, with 1000 steps):

* the training schedule is the inference schedule with ``N = 1000``: unshifted sigmas
  ``linspace(1, 0, 1001)[:-1]``, shifted ``s' = 5 s / (1 + 4 s)`` (shift 5), timesteps ``t = 1000 s'``;
* a timestep is drawn **uniformly over the 1000 shifted steps** (so high noise is drawn more often
  than a uniform ``t`` would: the shift spends more steps there, as inference does);
* ``x_t = (1 - s') x0 + s' eps`` and the model regresses the velocity ``eps - x0`` (MSE);
* the loss is weighted by ``exp(-2 ((t - 500) / 1000)^2)``, shifted to a zero minimum and
  normalised to mean 1 over the 1000 steps (DiffSynth's ``training_weight``): mid-range
  timesteps count most, the extremes (almost clean, almost pure noise) least;
* option ``logit_normal``: ``s = sigmoid(N(mean, std))`` then shifted (SD3's sampling), with loss
  weight 1, since the sampling density itself already favours the middle.

Each expert trains on its own range: the high-noise expert on ``t >= BOUNDARY * 1000`` (0.9), the
low-noise one below, the split the pipeline uses at inference (the official engine trains them
as two runs with ``min/max_timestep_boundary`` 0.358 of the step index, which is t = 900).

Taught in notebook 08 (training: the objective, its loss weight over t, one Euler step undoing it);
notebook 06 (the model and inference) teaches the schedule.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from facecam_kit.model.pipeline import official_sigmas
from facecam_kit.spec import BOUNDARY, SHIFT

NUM_TRAIN_TIMESTEPS = 1000
EXPERTS = ("high", "low")


def shift_sigmas(sigmas, shift: float = SHIFT):
    """Wan's shift ``s' = shift s / (1 + (shift - 1) s)`` (arrays or tensors)."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def unshift_sigmas(shifted, shift: float = SHIFT):
    """Inverse of :func:`shift_sigmas`."""
    return shifted / (shift - (shift - 1) * shifted)


def training_timesteps(shift: float = SHIFT) -> np.ndarray:
    """The 1000 training timesteps, from ~1000 down to ~5 (float64): ``1000 * shift(linspace(1, 0, 1001)[:-1])``."""
    return NUM_TRAIN_TIMESTEPS * shift_sigmas(official_sigmas(NUM_TRAIN_TIMESTEPS), shift)


def loss_weights(shift: float = SHIFT) -> np.ndarray:
    """DiffSynth's loss weight of each training timestep: a Gaussian in t centred on 500, minus its
    minimum, scaled to mean 1. (1000,) float64, aligned with :func:`training_timesteps`."""
    t = training_timesteps(shift)
    y = np.exp(-2 * ((t - NUM_TRAIN_TIMESTEPS / 2) / NUM_TRAIN_TIMESTEPS) ** 2)
    y = y - y.min()
    return y * (len(y) / y.sum())


def expert_range(expert: str, boundary: float = BOUNDARY) -> tuple[float, float]:
    """The timestep interval [lo, hi) an expert trains on: high ``[boundary*1000, inf)``, low
    ``[0, boundary*1000)``, and ``all`` (a single model for every timestep) ``[0, inf)``."""
    edge = boundary * NUM_TRAIN_TIMESTEPS
    if expert == "high":
        return edge, math.inf
    if expert == "low":
        return 0.0, edge
    if expert == "all":
        return 0.0, math.inf
    raise ValueError(f"expert must be 'high', 'low' or 'all', got {expert!r}")


def expert_step_ids(expert: str, boundary: float = BOUNDARY, shift: float = SHIFT) -> np.ndarray:
    """Indices into :func:`training_timesteps` of the steps an expert trains on."""
    lo, hi = expert_range(expert, boundary)
    t = training_timesteps(shift)
    return np.flatnonzero((t >= lo) & (t < hi))


def expert_share(expert: str, boundary: float = BOUNDARY, shift: float = SHIFT) -> float:
    """The share of the 1000 shifted steps an expert owns (high: 0.358 with boundary 0.9 and shift 5)."""
    return len(expert_step_ids(expert, boundary, shift)) / NUM_TRAIN_TIMESTEPS


def sample_timesteps(
    generator: torch.Generator,
    n: int,
    expert: str,
    sampling: str = "uniform",
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    boundary: float = BOUNDARY,
    shift: float = SHIFT,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``n`` training timesteps in an expert's range.

    Returns ``t`` (n,) in [0, 1000], the shifted ``sigma = t / 1000`` (n,) and the loss ``weight`` (n,),
    all float32 on the CPU. ``uniform``: a step drawn uniformly among the expert's steps of the
    1000-step shifted schedule, weighted by :func:`loss_weights`; ``logit_normal``: the unshifted
    sigma ``sigmoid(N(logit_mean, logit_std))`` truncated to the expert's range (inverse CDF),
    shifted, weight 1.
    """
    if sampling == "uniform":
        ids = torch.from_numpy(expert_step_ids(expert, boundary, shift))
        pick = ids[torch.randint(len(ids), (n,), generator=generator)]
        t = torch.from_numpy(training_timesteps(shift))[pick]
        w = torch.from_numpy(loss_weights(shift))[pick]
    elif sampling == "logit_normal":
        lo, hi = expert_range(expert, boundary)
        normal = torch.distributions.Normal(logit_mean, logit_std)

        def cdf(t):  # the logit-normal CDF of the unshifted sigma of timestep t
            s = min(float(unshift_sigmas(min(t, NUM_TRAIN_TIMESTEPS) / NUM_TRAIN_TIMESTEPS, shift)), 1 - 1e-7)
            return float(normal.cdf(torch.tensor(math.log(max(s, 1e-7) / (1 - s)))))

        a, b = cdf(lo), cdf(hi)
        u = a + (b - a) * torch.rand(n, generator=generator, dtype=torch.float64)
        s = torch.sigmoid(normal.icdf(u.clamp(1e-7, 1 - 1e-7)))
        t = NUM_TRAIN_TIMESTEPS * shift_sigmas(s, shift)
        w = torch.ones(n, dtype=torch.float64)
    else:
        raise ValueError(f"timestep sampling must be 'uniform' or 'logit_normal', got {sampling!r}")
    return t.float(), (t / NUM_TRAIN_TIMESTEPS).float(), w.float()


def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - sigma) x0 + sigma eps``; sigma (B,) broadcast over the other axes."""
    s = sigma.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    return (1 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The flow-matching regression target ``eps - x0``."""
    return noise - x0
