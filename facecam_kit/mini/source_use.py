"""Does a DiT use its source video? Its clean estimate with the scene's own source and with another head's.

At noise level ``sigma`` the model sees ``x_t = (1 - sigma) x0 + sigma eps`` of the target latents
and predicts a velocity ``v``; its estimate of the clean target is ``x_t - sigma v``. Give it the
same ``x_t``, the same camera condition and the same noise, once with the scene's own source and
once with the source of another held-out head filmed along the same move: whatever the estimate
loses with the swap is what the model takes from the source. At high noise ``x_t`` says little,
so a model that reads its source must gain there; one that does not has learnt to paint an
average head where the condition puts it. Two references bound the errors: the spread of the
targets around their mean (the best guess from nothing but the data) and the copy of the source
(the source's latents taken as the target's).

Taught in notebook 09 (FaceCam-mini, section 11).
"""

from __future__ import annotations

import numpy as np
import torch

from facecam_kit.mini.experiment import scene_camera
from facecam_kit.mini.vae import clips_tensor
from facecam_kit.model.pipeline import camera_inputs, dit_input


def swap_partners(scenes) -> list[int]:
    """For each scene, the index of the next scene (cyclically) of another head along the same move at
    the same scale: the source it is given in the swap. ValueError when a scene has none."""
    partners = []
    for i, a in enumerate(scenes):
        order = [(i + k) % len(scenes) for k in range(1, len(scenes))]
        match = [
            j
            for j in order
            if scenes[j].head != a.head and (scenes[j].trajectory, scenes[j].scale) == (a.trajectory, a.scale)
        ]
        if not match:
            raise ValueError(
                f"scene {a.name!r} has no scene of another head along {a.trajectory} at scale {a.scale:g}: "
                "give scenes of at least two heads along the same moves"
            )
        partners.append(match[0])
    return partners


def _camera(pipe, scenes) -> torch.Tensor:
    """The scenes' camera conditions as the DiT takes them (landmark latents, rays or poses)."""
    cams = [scene_camera(pipe, s) for s in scenes]
    if pipe.config.camera_kind == "landmarks":
        return pipe.encode_video(clips_tensor(np.stack(cams)))
    return torch.cat(cams)


@torch.no_grad()
def source_reliance(pipe, scenes, sigmas=(0.5, 0.7, 0.9), seed: int = 0) -> dict:
    """The mean squared error of a FaceCam-mini DiT's clean estimate of the target latents, per noise level.

    scenes: test scenes (:class:`~facecam_kit.mini.experiment.Scene`) of at least two heads along
    the same moves (:func:`swap_partners`); sigmas: noise levels in (0, 1). Returns ``sigma``
    (list), ``own`` and ``swapped`` (lists, one error per sigma: the scene's own source, another
    head's), ``mean_baseline`` (the targets' mean squared spread around their mean latent) and
    ``copy_source`` (the source's latents against the target's), all in normalised latent units."""
    from facecam_kit.mini.models import text_embeddings

    bad = [s for s in sigmas if not 0.0 < s < 1.0]
    if bad:
        raise ValueError(f"sigmas must lie in (0, 1), got {bad}")
    partner = swap_partners(scenes)
    source = pipe.encode_video(clips_tensor(np.stack([s.source for s in scenes])))
    target = pipe.encode_video(clips_tensor(np.stack([s.target for s in scenes])))
    y, camera_kwargs = camera_inputs(pipe.config.camera_kind, _camera(pipe, scenes))
    text = text_embeddings(pipe, len(scenes))
    generator = torch.Generator().manual_seed(seed)
    f = target.shape[2]
    out = {"sigma": list(sigmas), "own": [], "swapped": []}
    for sigma in sigmas:
        noisy = (1 - sigma) * target + sigma * torch.randn(target.shape, generator=generator)
        t = torch.full((len(scenes),), 1000.0 * sigma)
        for key, src in (("own", source), ("swapped", source[partner])):
            v = pipe.transformer(dit_input(noisy, src, y), t, text, return_dict=False, **camera_kwargs)[0]
            out[key].append(float(((noisy - sigma * v[:, :, :f] - target) ** 2).mean()))
    out["mean_baseline"] = float(((target - target.mean(0)) ** 2).mean())
    out["copy_source"] = float(((source - target) ** 2).mean())
    return out
