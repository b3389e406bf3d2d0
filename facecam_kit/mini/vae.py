"""FaceCam-mini's video VAE: Wan's ``AutoencoderKLWan`` in a small configuration, trained here.

Same architecture family as the Wan2.1 VAE that FaceCam uses (causal 3D convolutions, 16 latent
channels, time compressed by 4 after the first frame, space by 8), with 16 base channels instead
of 96, so that it trains on a 2-core CPU in minutes. It learns to reconstruct short clips of the
mini training data (studio heads over coloured backgrounds and their landmark condition videos,
which the DiT also sees through the VAE) with an L1 loss and a small KL term.

After training, the per-channel mean and standard deviation of its latents over the training
clips are written into its config (``latents_mean`` / ``latents_std``), the normalisation
``(z - mean) / std`` that :class:`~facecam_kit.model.pipeline.FaceCamPipeline` applies.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from tqdm.auto import tqdm

from facecam_kit.spec import vae_compression

#: the mini VAE's architecture (diffusers ``AutoencoderKLWan`` arguments)
MINI_VAE_CONFIG = dict(
    base_dim=16, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, temperal_downsample=[False, True, True]
)
KL_WEIGHT = 1e-6


def mini_vae(seed: int = 0, latents_mean=None, latents_std=None, config: dict | None = None) -> AutoencoderKLWan:
    """A randomly initialised mini VAE (seeded) of ``config`` (default :data:`MINI_VAE_CONFIG`); with
    ``latents_mean``/``latents_std`` (z_dim,) its normalisation."""
    torch.manual_seed(seed)
    extra = {}
    if latents_mean is not None:
        extra = dict(latents_mean=[float(v) for v in latents_mean], latents_std=[float(v) for v in latents_std])
    return AutoencoderKLWan(**(MINI_VAE_CONFIG if config is None else config), **extra)


def spatial_compression(vae: AutoencoderKLWan) -> int:
    """How many pixels one latent spans per side: 2 per downsampling stage (Wan's VAE: 8)."""
    return vae_compression(vae.config.temperal_downsample)[1]


def temporal_compression(vae: AutoencoderKLWan) -> int:
    """How many frames one latent frame after the first spans (Wan's VAE: 4): 2 per stage that
    downsamples time."""
    return vae_compression(vae.config.temperal_downsample)[0]


def decode_unclamped(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """``vae.decode(z)`` without its final clamp to [-1, 1], for training: a clamped pixel has no
    gradient, and a decoder pushed past the white background (+1) everywhere never recovers.
    Frame by frame with the causal feature cache, as diffusers' ``AutoencoderKLWan._decode``."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    frames = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        frames.append(
            vae.decoder(x[:, :, i : i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, first_chunk=i == 0)
        )
    vae.clear_cache()
    return torch.cat(frames, 2)


def clips_tensor(clips) -> torch.Tensor:
    """Video clips as the VAE and the pipeline take them: (B, F, H, W, 3) uint8 to (B, 3, F, H, W)
    float32 in [-1, 1]."""
    return torch.from_numpy(np.asarray(clips)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def train_vae(
    clips: np.ndarray,
    steps: int,
    batch_size: int = 2,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    config: dict | None = None,
    frames: int | None = None,
    crop: int | None = None,
) -> tuple[AutoencoderKLWan, list[float]]:
    """Train a mini VAE of ``config`` on ``clips`` (N, F, H, W, 3) uint8 (F = 4k+1, H and W multiples
    of the VAE's compression), each step on ``frames`` consecutive frames (4k+1; default all F) of
    ``batch_size`` clips, cropped to a random ``crop`` x ``crop`` square (a multiple of 8; default the
    whole frame): the VAE is convolutional, and small crops make many more steps in the same time.

    AdamW with a cosine decay after 5% warm-up; loss ``L1(x, D(z)) + 1e-6 KL`` with z sampled from
    the posterior. Returns the VAE (normalisation set by :func:`latent_statistics`, eval mode) and
    the loss of every step.
    """
    if clips.ndim != 5 or clips.dtype != np.uint8 or clips.shape[-1] != 3:
        raise ValueError(f"clips must be (N, F, H, W, 3) uint8, got {clips.shape} {clips.dtype}")
    frames = clips.shape[1] if frames is None else frames
    if not (frames - 1) % 4 == 0 < frames <= clips.shape[1]:
        raise ValueError(f"frames must be 4k+1 and at most the clips' {clips.shape[1]}, got {frames}")
    crop = min(clips.shape[2:4]) if crop is None else crop
    if crop % 8 or not 0 < crop <= min(clips.shape[2:4]):
        raise ValueError(f"crop must be a multiple of 8 within the frame {clips.shape[2:4]}, got {crop}")
    vae = mini_vae(seed, config=config)
    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / steps)))
    )
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    losses = []
    bar = tqdm(range(steps), desc="training the mini VAE", disable=not progress)
    for _ in bar:
        start = int(rng.integers(0, clips.shape[1] - frames + 1)) if frames < clips.shape[1] else 0
        x = clips_tensor(clips[rng.integers(len(clips), size=batch_size), start : start + frames])
        if crop < min(x.shape[-2:]):
            top, left = (int(rng.integers(0, n - crop + 1)) // 8 * 8 for n in x.shape[-2:])
            x = x[..., top : top + crop, left : left + crop]
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=g)
        loss = (decode_unclamped(vae, z) - x).abs().mean() + KL_WEIGHT * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    vae.eval()
    mean, std = latent_statistics(vae, clips)
    out = mini_vae(seed, mean, std, config)
    out.load_state_dict(vae.state_dict())
    return out.eval(), losses


@torch.no_grad()
def latent_statistics(vae: AutoencoderKLWan, clips: np.ndarray, batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (16,) of the posterior modes of ``clips``."""
    batches = (clips_tensor(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size))
    z = torch.cat([vae.encode(x).latent_dist.mode() for x in batches])
    z = z.transpose(0, 1).reshape(z.shape[1], -1).double()
    return z.mean(1).numpy(), z.std(1).clamp_min(1e-3).numpy()


@torch.no_grad()
def reconstruct(vae: AutoencoderKLWan, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """``vae``'s round trips (posterior mode) of (N, F, H, W, 3) uint8 clips, the same shape and dtype."""
    out = []
    for i in range(0, len(clips), batch_size):
        x = clips_tensor(clips[i : i + batch_size])
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
        out.append(((rec + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).numpy())
    return np.concatenate(out)


def reconstruction_psnr(vae: AutoencoderKLWan, clips: np.ndarray, batch_size: int = 8) -> float:
    """Mean PSNR (dB, per clip over all its frames) of ``vae``'s reconstructions (posterior mode)."""
    from facecam_kit.evaluation.fidelity import psnr

    return float(np.mean([psnr(a, b) for a, b in zip(clips, reconstruct(vae, clips, batch_size))]))
