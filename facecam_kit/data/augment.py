"""FaceCam's training-data strategies, each transforming the frames *and* their landmarks.

The camera condition must describe the augmented video, not the original one, so every function
here takes frames (F, H, W, 3) uint8 with their landmarks (F, N, 2) pixels and returns both
transformed consistently (and, where the camera changes, the matching intrinsics).

* scale augmentation: a random zoom in [0.75, 1.25] about the image centre;
* background: MediaPipe selfie segmentation, the background replaced by a random colour;
* synthetic camera motion on one video: zoom (scale interpolated from start to end) and pan
  (crop offset interpolated), usable on monocular "in-the-wild" videos;
* multi-clip stitching: 1-4 clips from different cameras of one multi-view capture, in time order.

A scale about the centre and a crop shift are both changes of the intrinsics: ``K' = A K`` with
``A`` the 2D similarity applied to the image, so the augmented frames keep exact cameras.

Taught in notebook 04 (training-data strategies).
"""

from __future__ import annotations

import cv2
import numpy as np

from facecam_kit.face.landmarks import STDERR_FILTER

SCALE_RANGE = (0.75, 1.25)
MAX_CLIPS = 4


def similarity_matrices(scale, shift, height: int, width: int) -> np.ndarray:
    """2D similarities (F, 3, 3): zoom by ``scale`` (F,) about the image centre, then move by
    ``shift`` (F, 2) pixels (a crop offset of ``-shift``)."""
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float64))
    shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (len(scale), 2))
    c = np.array([width / 2, height / 2])
    A = np.tile(np.eye(3), (len(scale), 1, 1))
    A[:, 0, 0] = A[:, 1, 1] = scale
    A[:, :2, 2] = c - scale[:, None] * c + shift
    return A


def warp(frames: np.ndarray, landmarks: np.ndarray, A: np.ndarray, fill=(255, 255, 255)):
    """Apply per-frame 2D similarities A (F, 3, 3) to frames (F, H, W, 3) and landmarks (F, N, 2).

    Uncovered pixels get ``fill``. Returns warped frames and landmarks.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (F, H, W, 3), got {frames.shape}")
    if len(A) != len(frames) or np.shape(landmarks)[0] != len(frames):
        raise ValueError(
            f"need one transform and one landmark set per frame: {len(frames)} frames, "
            f"{len(A)} transforms, {np.shape(landmarks)[0]} landmark sets"
        )
    h, w = frames.shape[1:3]
    out = np.stack(
        [
            cv2.warpAffine(
                f,
                a[:2],
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=tuple(int(v) for v in fill),
            )
            for f, a in zip(frames, A)
        ]
    )
    lm = np.asarray(landmarks, dtype=np.float64)[..., :2]
    # cv2 maps pixel centres (x + 0.5 in our continuous coordinates): conjugate by the half-pixel shift
    lm = np.einsum("fij,fnj->fni", A[:, :2, :2], lm - 0.5) + A[:, None, :2, 2] + 0.5
    return out, lm


def scale_augment(frames, landmarks, scale: float):
    """Zoom every frame by ``scale`` about the centre (the paper samples it from [0.75, 1.25])."""
    return warp(frames, landmarks, similarity_matrices(np.full(len(frames), scale), 0, *np.shape(frames)[1:3]))


def synthetic_zoom(frames, landmarks, scale_start: float, scale_end: float):
    """A zoom: the scale interpolated linearly from start to end over the frames."""
    s = np.linspace(scale_start, scale_end, len(frames))
    return warp(frames, landmarks, similarity_matrices(s, 0, *np.shape(frames)[1:3]))


def synthetic_pan(frames, landmarks, shift_start, shift_end):
    """A pan: the image moved by an offset (pixels, x y) interpolated from start to end."""
    d = np.linspace(np.asarray(shift_start, float), np.asarray(shift_end, float), len(frames))
    return warp(frames, landmarks, similarity_matrices(np.ones(len(frames)), d, *np.shape(frames)[1:3]))


def adjust_intrinsics(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    """The intrinsics (F, 3, 3) of frames warped by A (F, 3, 3): ``K' = A K`` (half-pixel conjugated)."""
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1.0]])
    return half @ A @ np.linalg.inv(half) @ K


class BackgroundReplacer:
    """MediaPipe selfie segmentation (model bundled in the wheel); background -> a flat colour."""

    def __init__(self):
        import mediapipe as mp

        STDERR_FILTER.acquire()  # MediaPipe's start-up lines stay out of the notebooks
        try:
            self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        except BaseException:
            STDERR_FILTER.release()
            raise
        self._open = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._seg.close()
            finally:
                STDERR_FILTER.release()

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """Foreground probability (H, W) float32 of an RGB frame."""
        return self._seg.process(np.ascontiguousarray(frame)).segmentation_mask

    def __call__(self, frames: np.ndarray, color) -> np.ndarray:
        """Frames (F, H, W, 3) with the background replaced by ``color`` (3,) uint8, soft edges."""
        color = np.asarray(color, dtype=np.float32)
        out = np.empty_like(frames)
        for i, f in enumerate(frames):
            m = self.mask(f)[..., None]
            out[i] = np.clip(m * f + (1 - m) * color, 0, 255).astype(np.uint8)
        return out


def stitch_plan(rng: np.random.Generator, num_frames: int, num_cameras: int, max_clips: int = MAX_CLIPS):
    """Random multi-clip stitching: per output frame, which camera it comes from.

    1 to ``max_clips`` clips (never more than cameras), consecutive clips from different cameras,
    cut at random frames. Returns (F,) int camera index per frame.
    """
    n = int(rng.integers(1, min(max_clips, num_cameras) + 1))
    cuts = np.sort(rng.choice(np.arange(1, num_frames), n - 1, replace=False)) if n > 1 else np.array([], int)
    cams = [int(rng.integers(num_cameras))]
    for _ in range(n - 1):
        cams.append(int(rng.choice([c for c in range(num_cameras) if c != cams[-1]])))
    return np.repeat(cams, np.diff(np.r_[0, cuts, num_frames]))


def stitch(videos: np.ndarray, landmarks: np.ndarray, plan: np.ndarray):
    """Multi-clip stitching: frame f of the output is frame f of camera ``plan[f]``.

    videos (C, F, H, W, 3), landmarks (C, F, N, 2), plan (F,). Returns frames (F, H, W, 3), landmarks (F, N, 2).
    """
    f = np.arange(len(plan))
    return videos[plan, f], landmarks[plan, f]
