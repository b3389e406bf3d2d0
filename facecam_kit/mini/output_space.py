"""What a DiT's sampler can change: the space its last layer writes, token by token.

Wan's transformer ends in one linear layer, ``proj_out``, from ``inner_dim`` features to the
``p_t p_h p_w z_dim`` latent values of a token (its patch). Every velocity it predicts lies in the
span of that layer's columns and bias, and every Euler step moves the latents by a velocity, so a
sampler changes a token only inside that span: whatever of the starting noise lies outside it
reaches the decoded video untouched. When a token holds more values than ``inner_dim + 1`` (the
scale recipe's DiT: patch 1x4x4 on 32 latent channels, 512 values, written by 128 features), part of
the noise is never removed, however long the model trains.

Taught in notebook 09 (FaceCam-mini, section 11).
"""

from __future__ import annotations

import torch

from facecam_kit.mini.experiment import generate_batch, scene_camera, start_noise
from facecam_kit.mini.vae import clips_tensor
from facecam_kit.model.pipeline import values_per_token


def output_basis(transformer) -> torch.Tensor:
    """An orthonormal basis of the span of ``proj_out``'s columns and bias: (D, r) float64, D =
    :func:`~facecam_kit.model.pipeline.values_per_token`, r <= inner_dim + 1 (the rank)."""
    w = transformer.proj_out.weight.detach().double()
    b = transformer.proj_out.bias.detach().double()
    u, sv, _ = torch.linalg.svd(torch.cat([w, b[:, None]], 1), full_matrices=False)
    return u[:, sv > sv[0] * max(w.shape) * torch.finfo(torch.float64).eps]


def patch_tokens(latents: torch.Tensor, patch_size) -> torch.Tensor:
    """Latents (B, C, F, H, W) as the tokens ``proj_out`` writes: (B * F/p_t * H/p_h * W/p_w,
    p_t * p_h * p_w * C) float64, each row in the layer's order (p_t, p_h, p_w, C)."""
    pt, ph, pw = patch_size
    b, c, f, h, w = latents.shape
    if f % pt or h % ph or w % pw:
        raise ValueError(f"latents {tuple(latents.shape)} do not tile into patches of {tuple(patch_size)}")
    z = latents.detach().double().reshape(b, c, f // pt, pt, h // ph, ph, w // pw, pw)
    return z.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(-1, pt * ph * pw * c)


def outside(tokens: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """The part of each token (N, D) outside the span of ``basis`` (D, r): (N, D)."""
    return tokens - (tokens @ basis) @ basis.T


def energy_share(part: torch.Tensor, whole: torch.Tensor) -> float:
    """``|part|^2 / |whole|^2``: the share of ``whole``'s energy that ``part`` holds."""
    return float(part.norm() ** 2 / whole.norm() ** 2)


def noise_left(start: torch.Tensor, generated: torch.Tensor, target: torch.Tensor, transformer) -> dict:
    """How much of a generation ``transformer``'s last layer could not touch.

    start, generated, target: normalised latents (B, C, F, H, W) of the starting noise, the
    sampler's result and the true target. Returns ``rank`` and ``values_per_token``;
    ``changed_outside``: the share of the sampler's change that lies outside the output span (0 up
    to rounding: the argument above); ``noise_share``: the share of the generated latents' energy
    that is starting noise outside the span (left as it was); ``truth_outside``: the share of the
    target's energy outside it (what no training of this model can produce)."""
    basis, patch = output_basis(transformer), transformer.config.patch_size
    s, g, t = (patch_tokens(x, patch) for x in (start, generated, target))
    return {
        "rank": int(basis.shape[1]),
        "values_per_token": values_per_token(transformer.config),
        "changed_outside": float(outside(g - s, basis).norm() / (g - s).norm()),
        "noise_share": energy_share(outside(s, basis), g),
        "truth_outside": energy_share(outside(t, basis), t),
    }


def scene_noise_left(pipe, scene, steps: int = 20, seed: int = 0) -> dict:
    """:func:`noise_left` of a FaceCam-mini pipeline's generation of a test scene
    (:class:`~facecam_kit.mini.experiment.Scene`), from the noise the experiment starts it from."""
    frames, size = scene.source.shape[:2]
    camera = scene_camera(pipe, scene)
    generated = generate_batch(pipe, scene.source[None], [camera], steps, seed, output_type="latent")
    target = pipe.encode_video(clips_tensor(scene.target[None]))
    return noise_left(start_noise(pipe, frames, size, seed), generated, target, pipe.transformer)
