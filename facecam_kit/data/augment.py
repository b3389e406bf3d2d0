"""FaceCam's training-data strategies, each transforming the frames *and* their landmarks.

The camera condition must describe the augmented video, not the original one, so every function
here takes frames (F, H, W, 3) uint8 with their landmarks (F, N, 2) pixels and returns both
transformed consistently (and, where the camera changes, the matching intrinsics).

The official recipe (docs/official_behaviour.md, section 8):

* **still** augmentation of the source: one scale for the whole clip at a random position of the
  margin (:func:`still_transform`);
* **moving** augmentation of the target: a start and an end scale and a start and an end position,
  all interpolated linearly over the target: a zoom and a pan at once (:func:`moving_transform`);
* the canvas colour of both: the mean of the first frame's top corners (:func:`corner_colour`);
* multi-clip stitching into **equal segments** of ``F // k + 1`` frames (:func:`equal_segments`),
  the kit moving each cut onto a latent-frame boundary (:func:`latent_cut`).

A scale and a position ``pos`` of the margin move a point at the frame centre by ``(s - 1)(1/2 - pos)``
of the frame side (:func:`margin_shift`). The kit's earlier strategies stay as options: a scale about
the centre (:func:`scale_augment`), a zoom *or* a pan (:func:`synthetic_zoom`, :func:`synthetic_pan`),
stitching cut at random frames (:func:`stitch_plan`), and MediaPipe's background replacement.

A scale about the centre and a crop shift are both changes of the intrinsics: ``K' = A K`` with
``A`` the 2D similarity applied to the image, so the augmented frames keep exact cameras.

Taught in notebook 04 (training-data strategies).
"""

from __future__ import annotations

import cv2
import numpy as np

from facecam_kit.face.landmarks import STDERR_FILTER
from facecam_kit.spec import TEMPORAL_COMPRESSION

SCALE_RANGE = (0.75, 1.25)
MAX_CLIPS = 4
#: the side of the corner patches whose mean colour fills uncovered pixels (official: 10 x 10)
CORNER_PATCH = 10


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
    return out, transform_landmarks(landmarks, A)


def transform_landmarks(landmarks, A: np.ndarray) -> np.ndarray:
    """Landmarks (F, N, 2) pixels moved by the similarities A (F, 3, 3) as :func:`warp` moves the pixels."""
    lm = np.asarray(landmarks, dtype=np.float64)[..., :2]
    # cv2 maps pixel centres (x + 0.5 in our continuous coordinates): conjugate by the half-pixel shift
    return np.einsum("fij,fnj->fni", A[:, :2, :2], lm - 0.5) + A[:, None, :2, 2] + 0.5


def corner_colour(frame: np.ndarray, patch: int = CORNER_PATCH) -> np.ndarray:
    """The official canvas colour: the mean of the top-left and top-right ``patch`` x ``patch``
    corners of a frame (H, W, 3), so that borders match the background. Returns (3,) uint8."""
    corners = np.concatenate([frame[:patch, :patch], frame[:patch, -patch:]], 1).reshape(-1, 3)
    return np.round(corners.mean(0)).astype(np.uint8)


def margin_shift(scale, position, height: int, width: int) -> np.ndarray:
    """The shift (F, 2) pixels, x y, that places a frame scaled by ``scale`` (F,) at ``position``
    (F, 2) in [0, 1] of the margin, as the official augmentation does: a scale above 1 crops the
    enlarged frame there, below 1 pastes the shrunk frame there on a canvas. Either way a point at the
    centre moves by ``(s - 1)(1/2 - pos)`` of the frame side (with :func:`similarity_matrices`)."""
    s = np.atleast_1d(np.asarray(scale, dtype=np.float64))[:, None]
    return (s - 1) * (0.5 - np.asarray(position, dtype=np.float64)) * [width, height]


def still_transform(rng: np.random.Generator, num_frames: int, height: int, width: int, scale_range, position: str):
    """The source's still augmentation: one scale ~ U(scale_range) for every frame, at a position
    ~ U(0, 1)^2 of the margin (``position="random"``, official) or at the centre (``"centre"``, the
    kit's earlier). ``scale_range`` None: no augmentation, nothing drawn. Returns A (F, 3, 3)."""
    if scale_range is None:
        return np.tile(np.eye(3), (num_frames, 1, 1))
    s = rng.uniform(*scale_range)
    pos = rng.uniform(0, 1, 2) if position == "random" else np.full(2, 0.5)
    shift = margin_shift([s], pos[None], height, width)
    return similarity_matrices(np.full(num_frames, s), np.repeat(shift, num_frames, 0), height, width)


def moving_transform(rng: np.random.Generator, num_frames: int, height: int, width: int, scale_range):
    """The target's moving augmentation (official): a start and an end scale ~ U(scale_range) and a
    start and an end position ~ U(0, 1)^2 of the margin, each interpolated linearly over the frames:
    a zoom and a pan at once. Returns A (F, 3, 3)."""
    s0, s1 = rng.uniform(*scale_range, 2)
    p0, p1 = rng.uniform(0, 1, (2, 2))
    w = np.linspace(0, 1, num_frames)[:, None]
    s = s0 + (s1 - s0) * w[:, 0]
    return similarity_matrices(s, margin_shift(s, p0 + (p1 - p0) * w, height, width), height, width)


def latent_cut(frame: int, frames_per_latent: int = TEMPORAL_COMPRESSION) -> int:
    """The latent-frame boundary nearest to a cut before ``frame`` (ties go later): a frame ``nj + 1``
    for a VAE whose latent frames after the first span ``n = frames_per_latent`` frames (Wan's
    groups 0 | 1-4 | 5-8 ...: n = 4; n = 1 leaves every cut where it is)."""
    n = frames_per_latent
    return n * int(np.floor((frame - 1) / n + 0.5)) + 1


def equal_segments(
    num_frames: int, clips: int, latent_cuts: bool = True, frames_per_latent: int = TEMPORAL_COMPRESSION
) -> np.ndarray:
    """The first frame of each stitched segment, officially ``i * (F // k + 1)`` for k clips, the
    stitch truncated to F frames (k = 2 at 81 frames: 41 + 40; 3: 28 + 28 + 25). A segment starting
    at or past F is dropped (k = 4 at 9 frames gives 3 segments). With ``latent_cuts`` each cut moves
    to the nearest latent-frame boundary of a VAE of ``frames_per_latent`` (:func:`latent_cut`; 81
    frames, k = 3: 29 + 28 + 24), so that no latent frame mixes two cameras; cuts that meet merge.
    Returns (k',) int, starting with 0."""
    starts = np.arange(clips) * (num_frames // clips + 1)
    if latent_cuts:
        starts = np.r_[0, [latent_cut(s, frames_per_latent) for s in starts[1:]]].astype(int)
    return np.unique(starts[starts < num_frames])


def official_stitch_plan(
    rng: np.random.Generator,
    num_frames: int,
    num_cameras: int,
    max_clips: int = MAX_CLIPS,
    latent_cuts: bool = True,
    frames_per_latent: int = TEMPORAL_COMPRESSION,
) -> np.ndarray:
    """Official stitching: k ~ U{1..max_clips} target cameras drawn without repetition (the source
    camera may be among them), each filming one equal segment (:func:`equal_segments`) of the same
    clip. Returns (F,) int, the camera of each output frame."""
    k = int(rng.integers(1, min(max_clips, num_cameras) + 1))
    cams = rng.choice(num_cameras, k, replace=False)
    starts = equal_segments(num_frames, k, latent_cuts, frames_per_latent)
    return np.repeat(cams[: len(starts)], np.diff(np.r_[starts, num_frames]))


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
    """Random multi-clip stitching (the kit's earlier): per output frame, which camera it comes from.

    1 to ``max_clips`` clips (never more than cameras), consecutive clips from different cameras,
    cut at random frames, which may fall inside a latent frame: a segment of 1-3 frames can then be
    invisible to a camera condition sampled once per latent frame. Returns (F,) int camera per frame.
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
