"""Training triplets for FaceCam: (source video, target video, target condition video) + cameras.

:class:`StudioDataset` reads multi-view captures (layout in :mod:`facecam_kit.data.studio`): the
source is one camera's clip, the target a stitch of 1-4 clips from other cameras, and the
augmentations of :mod:`facecam_kit.data.augment` are applied at random. :class:`MonocularDataset`
makes triplets from a folder of ordinary videos with synthetic camera motion only.

Every sample is deterministic in (seed, index). Tensors are frames x channels x H x W in [-1, 1],
with frame counts of the form 4k+1 as Wan's VAE needs.

Taught in notebook 04 (the training dataset).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from facecam_kit.data import augment
from facecam_kit.data.studio import load_capture
from facecam_kit.face.condition import draw_condition
from facecam_kit.spec import check_num_frames


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (F, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_frames(video: torch.Tensor) -> np.ndarray:
    """An item's (F, 3, H, W) video in [-1, 1] back to (F, H, W, 3) uint8 frames."""
    return ((video.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


class _Augmenter:
    """The paper's augmentations, drawn from one random generator per sample."""

    def __init__(self, p_background: float, p_motion: float):
        self.p_background, self.p_motion = p_background, p_motion
        self._bg = None

    def background(self, rng, *videos):
        if rng.random() >= self.p_background:
            return videos
        self._bg = self._bg or augment.BackgroundReplacer()
        color = rng.integers(0, 256, 3)
        return tuple(self._bg(v, color) for v in videos)

    def camera(self, rng, frames, landmarks, K, moving: bool):
        """Random scale, and for the target (``moving``) possibly a synthetic zoom or pan."""
        h, w = frames.shape[1:3]
        s = rng.uniform(*augment.SCALE_RANGE)
        scale, shift = np.full(len(frames), s), np.zeros((len(frames), 2))
        if moving and rng.random() < self.p_motion:
            if rng.random() < 0.5:  # zoom
                scale = s * np.linspace(1.0, rng.uniform(0.8, 1.25), len(frames))
            else:  # pan by up to 15% of the frame
                end = rng.uniform(-0.15, 0.15, 2) * [w, h]
                shift = np.linspace(0, 1, len(frames))[:, None] * end
        A = augment.similarity_matrices(scale, shift, h, w)
        frames, landmarks = augment.warp(frames, landmarks, A)
        return frames, landmarks, augment.adjust_intrinsics(K, A)


class StudioDataset(torch.utils.data.Dataset):
    """FaceCam triplets from studio captures.

    root: a studio folder (capture sub-folders); num_frames: 4k+1 frames per clip;
    samples_per_capture: items per capture per epoch. Each item is a dict with ``source``,
    ``target``, ``condition`` (F, 3, H, W) in [-1, 1], the target cameras ``R`` (F, 3, 3), ``t`` (F, 3),
    ``K`` (F, 3, 3) (K includes the augmentation), the source camera ``source_R`` (3, 3),
    ``source_t`` (3,), ``source_K`` (3, 3), ``head_pose`` (F, 4, 4), ``plan`` (F,), the camera each
    target frame came from, and ``scene_scale``: the metric size of the scene, drawn log-uniformly
    from ``scene_scale_range``. Scaling head and distances together changes no pixel, so the pixels
    cannot tell it; only metric camera conditions (extrinsics, Plücker rays) multiply their
    translations by it (notebook 01's scale ambiguity, learnt in notebook 08).
    """

    def __init__(
        self,
        root,
        num_frames: int = 17,
        samples_per_capture: int = 8,
        augment: bool = True,
        p_background: float = 0.5,
        p_motion: float = 0.5,
        seed: int = 0,
        scene_scale_range: tuple[float, float] = (1.0, 1.0),
    ):
        check_num_frames(num_frames)
        lo, hi = scene_scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scene_scale_range must be (lo, hi) with 0 < lo <= hi, got {scene_scale_range}")
        self.scene_scale_range = (float(lo), float(hi))
        root = Path(root)
        self.paths = sorted(p.parent for p in root.glob("*/capture.json"))
        if not self.paths:
            raise ValueError(
                f"no studio captures under {root}: expected sub-folders with capture.json "
                f"(make them with facecam_kit.data.studio.make_studio)"
            )
        self.num_frames, self.samples_per_capture, self.seed = num_frames, samples_per_capture, seed
        self.augment = _Augmenter(p_background, p_motion) if augment else None
        self._load = lru_cache(maxsize=8)(load_capture)

    def __len__(self) -> int:
        return len(self.paths) * self.samples_per_capture

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        cap = self._load(self.paths[index % len(self.paths)])
        C, F = cap.videos.shape[:2]
        if F < self.num_frames:
            raise ValueError(
                f"capture {self.paths[index % len(self.paths)]} has {F} frames, fewer than num_frames={self.num_frames}"
            )
        start = int(rng.integers(0, F - self.num_frames + 1))
        win = slice(start, start + self.num_frames)
        src_cam = int(rng.integers(C))
        plan = augment.stitch_plan(rng, self.num_frames, C)
        src, src_lm = cap.videos[src_cam, win], cap.landmarks2d[src_cam, win]
        tgt, tgt_lm = augment.stitch(cap.videos[:, win], cap.landmarks2d[:, win], plan)
        K, src_K = cap.K[plan], cap.K[src_cam]
        if self.augment:
            src, tgt = self.augment.background(rng, src, tgt)
            src_Ks = cap.K[[src_cam] * self.num_frames]
            src, src_lm, src_Ks = self.augment.camera(rng, src, src_lm, src_Ks, moving=False)
            src_K = src_Ks[0]  # the source's scale augmentation is one similarity for all its frames
            tgt, tgt_lm, K = self.augment.camera(rng, tgt, tgt_lm, K, moving=True)
        lo, hi = np.log(self.scene_scale_range)
        scene_scale = float(np.exp(rng.uniform(lo, hi))) if hi > lo else float(np.exp(lo))  # drawn last
        h, w = tgt.shape[1:3]
        cond = draw_condition(tgt_lm, h, w)
        return {
            "source": _to_tensor(src),
            "target": _to_tensor(tgt),
            "condition": _to_tensor(cond),
            "R": torch.from_numpy(cap.R[plan]),
            "t": torch.from_numpy(cap.t[plan]),
            "K": torch.from_numpy(K),
            "head_pose": torch.from_numpy(cap.head_pose[win]),
            "plan": torch.from_numpy(plan),
            "source_R": torch.from_numpy(cap.R[src_cam]),
            "source_t": torch.from_numpy(cap.t[src_cam]),
            "source_K": torch.from_numpy(np.asarray(src_K)),
            "scene_scale": torch.tensor(scene_scale, dtype=torch.float64),
        }


class MonocularDataset(torch.utils.data.Dataset):
    """FaceCam triplets from a folder of ordinary videos: the target is the source clip with a
    synthetic zoom or pan (the paper's in-the-wild supplement). Landmarks come from MediaPipe
    (once per video, cached). Items as :class:`StudioDataset`, without cameras.
    """

    def __init__(self, folder, num_frames: int = 17, samples_per_video: int = 4, seed: int = 0):
        from facecam_kit.video import read_video

        check_num_frames(num_frames)
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv"))
        if not self.files:
            raise ValueError(f"no videos (.mp4/.mov/.avi/.mkv) in {folder}")
        self._read = lru_cache(maxsize=4)(lambda p: read_video(p)[0])
        self._landmarks = {}
        self.num_frames, self.samples_per_video, self.seed = num_frames, samples_per_video, seed
        self.augment = _Augmenter(p_background=0.0, p_motion=1.0)

    def __len__(self) -> int:
        return len(self.files) * self.samples_per_video

    def __getitem__(self, index: int) -> dict:
        from facecam_kit.face.landmarks import detect_landmarks_video

        rng = np.random.default_rng([self.seed, index])
        path = self.files[index % len(self.files)]
        frames = self._read(path)
        if len(frames) < self.num_frames:
            raise ValueError(f"{path} has {len(frames)} frames, fewer than num_frames={self.num_frames}")
        if path not in self._landmarks:
            self._landmarks[path] = detect_landmarks_video(frames, str(path), progress=False)[..., :2]
        start = int(rng.integers(0, len(frames) - self.num_frames + 1))
        src, lm = frames[start : start + self.num_frames], self._landmarks[path][start : start + self.num_frames]
        no_camera = np.tile(np.eye(3), (self.num_frames, 1, 1))  # a monocular video has no known K
        tgt, tgt_lm, _ = self.augment.camera(rng, src, lm, no_camera, moving=True)
        h, w = tgt.shape[1:3]
        cond = draw_condition(tgt_lm, h, w)
        return {"source": _to_tensor(src), "target": _to_tensor(tgt), "condition": _to_tensor(cond)}
