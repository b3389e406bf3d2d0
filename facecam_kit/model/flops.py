"""Compute cost of the Wan video DiT with FaceCam's frame concatenation (docs/official_behaviour.md, section 6).

Per layer and token: linear layers ``2 (4 d^2 + 2 d^2 + 2 d ffn)`` (self-attention q, k, v, o;
cross-attention q, o; the feed-forward), plus ``2 d^2`` for ReCamMaster's projector; cross-attention
k and v over the 512 text tokens; attention ``4 N^2 d + 4 N 512 d``. Patch embedding, head and
text embedder are included; norms, softmax, RoPE, the VAE and T5 are not.

Taught in notebook 06 (token counts and FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_TOKENS = 512


@dataclass(frozen=True)
class DiTConfig:
    dim: int
    layers: int
    ffn: int
    in_channels: int
    text_dim: int = 4096
    patch: tuple[int, int, int] = (1, 2, 2)
    out_channels: int = 16
    projector: bool = False  # ReCamMaster's per-block projector


WAN22_I2V_A14B = DiTConfig(dim=5120, layers=40, ffn=13824, in_channels=36)  # one expert
WAN21_T2V_1_3B = DiTConfig(dim=1536, layers=30, ffn=8960, in_channels=16, projector=True)  # ReCamMaster


def latent_shape(num_frames: int, height: int, width: int, compression=(4, 8)) -> tuple[int, int, int]:
    """Latent (frames, height, width) of a video: time / 4 (+1), space / 8 (Wan's VAE), or the
    (frames per latent frame, pixels per latent) of another (``spec.vae_compression``)."""
    per_frame, per_pixel = compression
    return (num_frames - 1) // per_frame + 1, height // per_pixel, width // per_pixel


def tokens(num_frames: int, height: int, width: int, patch=(1, 2, 2), concat: bool = True, compression=(4, 8)) -> int:
    """Transformer tokens for one video; doubled by frame concatenation of the source video."""
    f, h, w = latent_shape(num_frames, height, width, compression)
    n = (f // patch[0]) * (h // patch[1]) * (w // patch[2])
    return 2 * n if concat else n


def forward_flops(cfg: DiTConfig, n_tokens: int) -> dict[str, float]:
    """FLOPs of one transformer forward pass over ``n_tokens`` tokens, by part."""
    d, L, t = cfg.dim, cfg.layers, TEXT_TOKENS
    per_token = 2 * (4 * d * d + 2 * d * d + 2 * d * cfg.ffn) + (2 * d * d if cfg.projector else 0)
    patch_in = cfg.in_channels * cfg.patch[0] * cfg.patch[1] * cfg.patch[2]
    patch_out = cfg.out_channels * cfg.patch[0] * cfg.patch[1] * cfg.patch[2]
    linear = L * (n_tokens * per_token + 2 * 2 * t * d * d)  # + cross-attention k, v on the text
    linear += 2 * n_tokens * d * (patch_in + patch_out) + 2 * t * (cfg.text_dim * d + d * d)
    self_attn = L * 4 * n_tokens**2 * d
    cross_attn = L * 4 * n_tokens * t * d
    return {
        "linear": linear,
        "self_attention": self_attn,
        "cross_attention": cross_attn,
        "total": linear + self_attn + cross_attn,
    }
