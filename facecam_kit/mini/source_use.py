"""What FaceCam-mini's network takes from its source: the clean estimate with the scene's own source
and with another held-out head's.

At noise level ``sigma`` the network sees ``x_t = (1 - sigma) x0 + sigma eps`` of the target and
predicts x0. Give it the same ``x_t``, the same condition and the same noise twice, once with the
scene's own source frames and once with another head's source along the same move: what the
estimate loses with the swap is what it takes from the source. At high noise, where ``x_t`` says
little, a network that reads its source must gain there; the first FaceCam-mini (a Wan DiT with
the source beside the target along frames) lost under 2% (``docs/mini_probes.md``).

Taught in notebook 09 (FaceCam-mini, section 11).
"""

from __future__ import annotations

import numpy as np
import torch

from facecam_kit.mini.unet import frames_first


def swap_partners(scenes) -> list[int]:
    """For each scene, the index of the next scene (cyclically) of another head along the same
    trajectory at the same scale, or ValueError when a scene has none."""
    n, out = len(scenes), []
    for i, sc in enumerate(scenes):
        later = [(i + k) % n for k in range(1, n)]
        same = [
            j
            for j in later
            if scenes[j].head != sc.head and (scenes[j].trajectory, scenes[j].scale) == (sc.trajectory, sc.scale)
        ]
        if not same:
            raise ValueError(f"scene {sc.name} has no scene of another head along {sc.trajectory} at scale {sc.scale}")
        out.append(same[0])
    return out


@torch.no_grad()
def source_reliance(pipe, scenes, sigmas=(0.5, 0.7, 0.9), seed: int = 0) -> dict:
    """The mean squared error of the landmark network's clean estimate of held-out ``scenes``' target
    latents at each noise level, with their own sources (``own``) and with a partner's
    (:func:`swap_partners`, ``swapped``); references: the targets' spread around their mean latent
    (``mean_baseline``) and the source's latents taken as the target's (``copy_source``).
    ``pipe``: a FaceCamMiniPipeline of camera kind landmarks; sigmas in (0, 1]."""
    from facecam_kit.mini.vae import clips_tensor

    if pipe.config.camera_kind != "landmarks":
        raise ValueError(f"source_reliance reads a landmark network, got camera_kind {pipe.config.camera_kind!r}")
    if not all(0 < s <= 1 for s in sigmas):
        raise ValueError(f"sigmas must be in (0, 1], got {sigmas}")
    partner = swap_partners(scenes)
    encode = lambda key: frames_first(pipe.encode_video(clips_tensor(np.stack([getattr(s, key) for s in scenes]))))
    x0, source, condition = encode("target"), encode("source"), encode("condition")
    f = len(scenes[0].target)
    swapped_source = source.unflatten(0, (len(scenes), f))[partner].flatten(0, 1)
    g = torch.Generator().manual_seed(seed)
    out = {"sigma": list(sigmas), "own": [], "swapped": []}
    for sigma in sigmas:
        xt = (1 - sigma) * x0 + sigma * torch.randn(x0.shape, generator=g)
        t = torch.full((len(x0),), 1000.0 * sigma)
        for key, src in (("own", source), ("swapped", swapped_source)):
            est = pipe.unet(xt, t, src, condition).sample
            out[key].append(float(((est - x0) ** 2).mean()))
    out["mean_baseline"] = float(((x0 - x0.mean(0, keepdim=True)) ** 2).mean())
    out["copy_source"] = float(((source - x0) ** 2).mean())
    return out
