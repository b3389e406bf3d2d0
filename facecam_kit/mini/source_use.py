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

:func:`source_reliance` asks it of test scenes, :func:`sample_reliance` of training samples (items
of a :class:`~facecam_kit.data.dataset.StudioDataset`), where the dataset's background rule can be
switched: a random background colour is shared by a sample's source and target, so a model can
take it from the source without reading the head at all.

Taught in notebook 09 (FaceCam-mini, section 11).
"""

from __future__ import annotations

import numpy as np
import torch

from facecam_kit.mini.experiment import scene_camera
from facecam_kit.mini.vae import clips_tensor
from facecam_kit.model.pipeline import camera_inputs, dit_input


def partners(heads, groups=None) -> list[int]:
    """For each item, the index of the next item (cyclically) of another head in the same group (the
    same move and scale, for scenes): the source it is given in the swap; None where it has none.

    heads: (N,) head of each item; groups: (N,) hashable group of each (None: one group)."""
    groups = [None] * len(heads) if groups is None else list(groups)
    out = []
    for i in range(len(heads)):
        order = [(i + k) % len(heads) for k in range(1, len(heads))]
        match = [j for j in order if heads[j] != heads[i] and groups[j] == groups[i]]
        out.append(match[0] if match else None)
    return out


def swap_partners(scenes) -> list[int]:
    """:func:`partners` of test scenes: another head along the same move at the same scale.
    ValueError when a scene has none."""
    found = partners([s.head for s in scenes], [(s.trajectory, s.scale) for s in scenes])
    for scene, j in zip(scenes, found):
        if j is None:
            raise ValueError(
                f"scene {scene.name!r} has no scene of another head along {scene.trajectory} at scale "
                f"{scene.scale:g}: give scenes of at least two heads along the same moves"
            )
    return found


def _camera(pipe, scenes) -> torch.Tensor:
    """The scenes' camera conditions as the DiT takes them (landmark latents, rays or poses)."""
    cams = [scene_camera(pipe, s) for s in scenes]
    if pipe.config.camera_kind == "landmarks":
        return pipe.encode_video(clips_tensor(np.stack(cams)))
    return torch.cat(cams)


def source_reliance(pipe, scenes, sigmas=(0.5, 0.7, 0.9), seed: int = 0) -> dict:
    """The mean squared error of a FaceCam-mini DiT's clean estimate of test scenes' target latents,
    per noise level, with each scene's own source and another head's.

    scenes: test scenes (:class:`~facecam_kit.mini.experiment.Scene`) of at least two heads along
    the same moves (:func:`swap_partners`); sigmas: noise levels in (0, 1). Returns ``sigma``
    (list), ``own`` and ``swapped`` (lists, one error per sigma: the scene's own source, another
    head's), ``mean_baseline`` (the targets' mean squared spread around their mean latent) and
    ``copy_source`` (the source's latents against the target's), all in normalised latent units."""
    _check_sigmas(sigmas)
    partner = swap_partners(scenes)
    with torch.no_grad():
        source = pipe.encode_video(clips_tensor(np.stack([s.source for s in scenes])))
        target = pipe.encode_video(clips_tensor(np.stack([s.target for s in scenes])))
        camera = _camera(pipe, scenes)
    return latent_errors(pipe, source, target, camera, partner, sigmas, seed)


def sample_reliance(pipe, items, heads, sigmas=(0.5, 0.9), seed: int = 0) -> dict:
    """:func:`source_reliance` of a landmark DiT on training samples.

    items: dataset items (``source``, ``target``, ``condition``: (F, 3, H, W) float in [-1, 1]);
    heads: (N,) the head (capture) of each, at least two; each is swapped with the next of another
    head. Returns the same keys."""
    if pipe.config.camera_kind != "landmarks":
        raise ValueError(f"sample_reliance takes a landmark model, got camera_kind {pipe.config.camera_kind!r}")
    if len(items) != len(heads):
        raise ValueError(f"heads must name the head of each of the {len(items)} items, got {len(heads)}")
    _check_sigmas(sigmas)
    partner = partners(list(heads))
    if None in partner:
        raise ValueError("sample_reliance needs items of at least two heads")

    from facecam_kit.train.cache import encode_item

    encoded = [encode_item(it, pipe.encode_video) for it in items]  # as the training cache encodes them
    source, target, camera = (torch.stack([e[k] for e in encoded]) for k in ("source", "target", "condition"))
    return latent_errors(pipe, source, target, camera, partner, sigmas, seed)


def _check_sigmas(sigmas) -> None:
    bad = [s for s in sigmas if not 0.0 < s < 1.0]
    if bad:
        raise ValueError(f"sigmas must lie in (0, 1), got {bad}")


@torch.no_grad()
def latent_errors(pipe, source, target, camera, partner, sigmas, seed: int = 0) -> dict:
    """The clean-estimate errors behind :func:`source_reliance`, on latents.

    source, target: (N, C, f, h, w) latents; camera: the DiT's camera condition, (N, ...) as
    :func:`~facecam_kit.model.pipeline.camera_inputs` takes it; partner: (N,) the index whose source
    each item is given in the swap; sigmas: noise levels in (0, 1)."""
    from facecam_kit.mini.models import text_embeddings

    y, camera_kwargs = camera_inputs(pipe.config.camera_kind, camera)
    text = text_embeddings(pipe, len(target))
    generator = torch.Generator().manual_seed(seed)
    f = target.shape[2]
    out = {"sigma": list(sigmas), "own": [], "swapped": []}
    for sigma in sigmas:
        noisy = (1 - sigma) * target + sigma * torch.randn(target.shape, generator=generator)
        t = torch.full((len(target),), 1000.0 * sigma)
        for key, src in (("own", source), ("swapped", source[list(partner)])):
            v = pipe.transformer(dit_input(noisy, src, y), t, text, return_dict=False, **camera_kwargs)[0]
            out[key].append(float(((noisy - sigma * v[:, :, :f] - target) ** 2).mean()))
    out["mean_baseline"] = float(((target - target.mean(0)) ** 2).mean())
    out["copy_source"] = float(((source - target) ** 2).mean())
    return out
