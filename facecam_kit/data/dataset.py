"""Training triplets for FaceCam: (source video, target video, target condition video) + cameras.

:class:`StudioDataset` reads multi-view captures (layout in :mod:`facecam_kit.data.studio`),
:class:`MonocularDataset` a folder of ordinary ("in-the-wild") videos. By default both make a
sample as the official FaceCam datasets do (docs/official_behaviour.md, section 8), each rule a
named argument with the kit's earlier behaviour as an option:

* ``condition``: ``"anchor"`` (official) draws the landmarks of the clip's **start instant**, seen
  from each segment's camera, once per segment and moves them only with the target's zoom and pan:
  the condition holds the camera, the head's motion and expression come from the source, as at
  inference (one static proxy head). ``"per_frame"``: every target frame's own landmarks, head
  motion included (the kit's earlier; a condition inference never gives);
* ``segments``: ``"equal"`` (official) k target cameras film equal segments of ``F // k + 1``
  frames (with ``latent_cuts`` each cut on a latent-frame boundary, the kit's rule, so that a
  camera condition sampled once per latent frame sees every camera change); ``"random"``: the
  earlier cuts at random frames between consecutive different cameras;
* ``target_motion``: ``"zoom_and_pan"`` (official) start and end scales ~ U(``target_scale_range``),
  start and end positions ~ U(0, 1) of the margin, linear over the target; ``"zoom_or_pan"``: the
  earlier constant scale U(0.75, 1.25) and a zoom or a pan on ``p_motion`` of the targets;
* the source: one scale ~ U(``source_scale_range``) at a ``source_position`` ``"random"`` (official)
  or ``"centre"`` (earlier) of the margin;
* ``fill``: ``"corners"`` (official) the mean of the first frame's top corners, so that borders
  match the background; ``"white"`` (earlier);
* ``p_same_camera`` (studio): the share of samples whose every target segment is the source
  camera's, so that the target is the source's own video under the target's zoom and pan: the
  official in-the-wild sample (section 8), made from a capture, with its cameras (0: none, the
  studio sample alone).

:data:`KIT_V1` collects the earlier choices (the kit's first FaceCam-mini, issue 11, trained on them).

Every sample is deterministic in (seed, index). Tensors are frames x channels x H x W in [-1, 1],
with frame counts of the form 4k+1 as Wan's VAE needs.

Taught in notebook 04 (the training dataset).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from facecam_kit.data import augment
from facecam_kit.data.studio import load_capture
from facecam_kit.face.condition import draw_condition
from facecam_kit.spec import HEIGHT, TEMPORAL_COMPRESSION, WIDTH, check_frame_size, check_num_frames

CONDITIONS = ("anchor", "per_frame")
SEGMENTS = ("equal", "random")
TARGET_MOTIONS = ("zoom_and_pan", "zoom_or_pan")
POSITIONS = ("random", "centre")
FILLS = ("corners", "white")
#: the kit's training data before it followed the official recipe (issue 19): FaceCam-mini v1's
KIT_V1 = dict(
    condition="per_frame",
    segments="random",
    latent_cuts=False,
    target_motion="zoom_or_pan",
    source_scale_range=augment.SCALE_RANGE,
    source_position="centre",
    fill="white",
)
#: captures kept in memory at most (bytes of their videos): the dataset reads them in rotation
#: (index % captures), so a cache smaller than the studio would miss on every read
CACHE_BYTES = 4 * 2**30
#: the extrinsic condition's data: ReCamMaster's 12 numbers hold no intrinsics, so they cannot say a
#: zoom or pan; scales of 1 (the positions are still drawn, so the samples are the other kinds')
NO_ZOOM_PAN = dict(source_scale_range=(1.0, 1.0), target_scale_range=(1.0, 1.0))
#: the rules a training configuration may set (``data_options``), per dataset
RULES = {
    "studio": (
        "condition",
        "supersample",
        "segments",
        "latent_cuts",
        "frames_per_latent",
        "max_clips",
        "target_motion",
        "target_scale_range",
        "source_scale_range",
        "source_position",
        "fill",
        "p_background",
        "p_motion",
        "p_same_camera",
    ),
    "monocular": (
        "condition",
        "supersample",
        "start",
        "crop",
        "height",
        "width",
        "target_motion",
        "target_scale_range",
        "source_scale_range",
        "source_position",
        "fill",
    ),
}


def resolve_options(
    data_kind: str, options: dict, camera_kind: str = "landmarks", augment: bool = True, camera_intrinsics: bool = False
) -> dict:
    """A dataset's rule arguments from a training configuration's ``data_options``: checked (names
    in :data:`RULES`, values by :func:`check_options`), with camera ``extrinsics`` and ``augment``
    :data:`NO_ZOOM_PAN` under the ones set (unless the extrinsics are told the intrinsics,
    ``camera_intrinsics``), as JSON values (lists, not tuples: the latent cache records them;
    without augmentation every camera kind's data, and cache, is the same)."""
    unknown = sorted(set(options) - set(RULES[data_kind]))
    if unknown:
        raise ValueError(
            f"data_options: unknown rule(s) {', '.join(map(str, unknown))} for data_kind {data_kind}; "
            f"the rules are {', '.join(RULES[data_kind])}"
        )
    try:
        check_options(**options)
    except ValueError as e:
        raise ValueError(f"data_options: {e}") from None
    blind = camera_kind == "extrinsics" and not camera_intrinsics  # 12 numbers cannot say a zoom or pan
    base = NO_ZOOM_PAN if blind and data_kind == "studio" and augment else {}
    return json.loads(json.dumps({**base, **options}))


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (F, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_frames(video: torch.Tensor) -> np.ndarray:
    """An item's (F, 3, H, W) video in [-1, 1] back to (F, H, W, 3) uint8 frames."""
    return ((video.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def check_options(**options) -> None:
    """Refuse a data rule of the wrong kind or outside its range (one line naming it and the fix)."""
    choices = {
        "condition": CONDITIONS,
        "segments": SEGMENTS,
        "target_motion": TARGET_MOTIONS,
        "source_position": POSITIONS,
        "fill": FILLS,
        "start": ("first", "random"),
    }
    number = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    for key, value in options.items():
        if key in choices and value not in choices[key]:
            raise ValueError(f"{key} must be one of {', '.join(choices[key])}; got {value!r}")
        if key.endswith("scale_range") and value is not None:
            ok = isinstance(value, list | tuple) and len(value) == 2 and all(map(number, value))
            if not (ok and 0 < value[0] <= value[1] <= 4):
                raise ValueError(f"{key} must be [lo, hi] with 0 < lo <= hi <= 4, got {value!r}")
        if key in ("latent_cuts", "crop") and not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}")
        if key in ("p_background", "p_motion", "p_same_camera") and not (number(value) and 0 <= value <= 1):
            raise ValueError(f"{key} must be a probability in [0, 1], got {value!r}")
        if key == "supersample" and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 8):
            raise ValueError(f"supersample must be an integer from 1 to 8, got {value!r}")
        if key == "frames_per_latent" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"frames_per_latent must be a positive integer, got {value!r}")
        if key == "max_clips" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"max_clips must be a positive integer, got {value!r}")
    if "height" in options or "width" in options:
        check_frame_size(options.get("height", HEIGHT), options.get("width", WIDTH))


class _Augmenter:
    """The 2D augmentations of one dataset, drawn from one random generator per sample."""

    def __init__(self, p_background, p_motion, source_scale_range, source_position, target_motion, target_scale_range):
        self.p_background, self.p_motion = p_background, p_motion
        self.source_scale_range, self.source_position = source_scale_range, source_position
        self.target_motion, self.target_scale_range = target_motion, target_scale_range
        self._bg = None

    def background(self, rng, *videos):
        if rng.random() >= self.p_background:
            return videos
        self._bg = self._bg or augment.BackgroundReplacer()
        color = rng.integers(0, 256, 3)
        return tuple(self._bg(v, color) for v in videos)

    def source(self, rng, num_frames: int, height: int, width: int) -> np.ndarray:
        """The source's still similarity (F, 3, 3)."""
        return augment.still_transform(rng, num_frames, height, width, self.source_scale_range, self.source_position)

    def target(self, rng, num_frames: int, height: int, width: int) -> np.ndarray:
        """The target's moving similarities (F, 3, 3)."""
        if self.target_motion == "zoom_and_pan":
            return augment.moving_transform(rng, num_frames, height, width, self.target_scale_range)
        # the kit's earlier: a random constant scale, then on p_motion of the targets a zoom or a pan
        s = rng.uniform(*augment.SCALE_RANGE)
        scale, shift = np.full(num_frames, s), np.zeros((num_frames, 2))
        if rng.random() < self.p_motion:
            if rng.random() < 0.5:  # zoom
                scale = s * np.linspace(1.0, rng.uniform(0.8, 1.25), num_frames)
            else:  # pan by up to 15% of the frame, from the centre
                end = rng.uniform(-0.15, 0.15, 2) * [width, height]
                shift = np.linspace(0, 1, num_frames)[:, None] * end
        return augment.similarity_matrices(scale, shift, height, width)


def _identity(num_frames: int) -> np.ndarray:
    return np.tile(np.eye(3), (num_frames, 1, 1))


def _warp(frames, landmarks, A, fill: str):
    """Frames and landmarks moved by A, uncovered pixels filled as ``fill`` says."""
    colour = augment.corner_colour(frames[0]) if fill == "corners" else (255, 255, 255)
    return augment.warp(frames, landmarks, A, colour)


class StudioDataset(torch.utils.data.Dataset):
    """FaceCam triplets from studio captures, made as the official NeRSemble dataset makes them.

    root: a studio folder (capture sub-folders); num_frames: 4k+1 frames per clip;
    samples_per_capture: items per capture per epoch; augment: False turns every 2D augmentation and
    the background colour off (the stitching and the condition rule stay). The rules (module
    docstring): ``condition`` (drawn at ``supersample`` times the size and averaged down:
    :func:`~facecam_kit.face.condition.draw_condition`), ``segments``, ``latent_cuts`` (on the
    latent-frame boundaries of a VAE of ``frames_per_latent``: Wan's 4),
    ``max_clips`` (k ~ U{1..max_clips} target cameras; the official default is 1, its example 4, the
    paper's value unknown: the kit takes 4), ``target_motion`` with ``target_scale_range``,
    ``source_scale_range`` (None: the source not augmented) with ``source_position``, ``fill``;
    ``p_background``: share of samples whose background MediaPipe replaces by a random colour shared
    by source and target (the official composites on one with masks); ``p_motion``: share of zooms
    or pans with ``target_motion="zoom_or_pan"``.

    Each item is a dict with ``source``, ``target``, ``condition`` (F, 3, H, W) in [-1, 1], the target
    cameras ``R`` (F, 3, 3), ``t`` (F, 3), ``K`` (F, 3, 3) (K includes the zoom and pan: the camera
    the pixels show), the source camera ``source_R`` (3, 3), ``source_t`` (3,), ``source_K`` (3, 3),
    ``head_pose`` (F, 4, 4), ``plan`` (F,), the camera each target frame came from, ``warp``
    (F, 3, 3) and ``source_warp`` (3, 3), the 2D similarities applied to the target and source
    frames, ``condition_landmarks`` (F, 478, 2), the pixels the condition was drawn from, ``start``,
    the clip's first capture frame, and ``scene_scale``: the metric size of the scene, drawn
    log-uniformly from ``scene_scale_range``. Scaling head and distances together changes no pixel,
    so the pixels cannot tell it; only metric camera conditions (extrinsics, Plücker rays) multiply
    their translations by it (notebook 01's scale ambiguity, learnt in notebook 09).
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
        condition: str = "anchor",
        supersample: int = 1,
        segments: str = "equal",
        latent_cuts: bool = True,
        frames_per_latent: int = TEMPORAL_COMPRESSION,
        max_clips: int = augment.MAX_CLIPS,
        target_motion: str = "zoom_and_pan",
        target_scale_range: tuple[float, float] = (1.0, 1.25),
        source_scale_range: tuple[float, float] | None = (0.75, 1.25),
        source_position: str = "random",
        fill: str = "corners",
        p_same_camera: float = 0.0,
    ):
        check_num_frames(num_frames)
        check_options(
            p_background=p_background,
            p_motion=p_motion,
            condition=condition,
            supersample=supersample,
            segments=segments,
            latent_cuts=latent_cuts,
            frames_per_latent=frames_per_latent,
            max_clips=max_clips,
            target_motion=target_motion,
            target_scale_range=target_scale_range,
            source_scale_range=source_scale_range,
            source_position=source_position,
            fill=fill,
            p_same_camera=p_same_camera,
        )
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
        self.condition, self.segments, self.latent_cuts, self.max_clips = condition, segments, latent_cuts, max_clips
        self.frames_per_latent = frames_per_latent
        self.supersample = supersample
        self.fill, self.p_same_camera = fill, p_same_camera
        self.augment = (
            _Augmenter(p_background, p_motion, source_scale_range, source_position, target_motion, target_scale_range)
            if augment
            else None
        )
        self._load = lru_cache(maxsize=self._cache_size())(load_capture)

    def _cache_size(self) -> int:
        """Every capture when their videos fit in :data:`CACHE_BYTES`, else one (read in rotation,
        a cache of fewer than all would miss on every read anyway)."""
        size = 0
        for path in self.paths:
            m = json.loads((path / "capture.json").read_text())
            size += m.get("num_cameras", 0) * m.get("num_frames", 0) * m.get("size", 0) ** 2 * 3
        return len(self.paths) if size <= CACHE_BYTES else 1

    def __len__(self) -> int:
        return len(self.paths) * self.samples_per_capture

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        cap = self._load(self.paths[index % len(self.paths)])
        C, F = cap.videos.shape[:2]
        n = self.num_frames
        if F < n:
            raise ValueError(f"capture {self.paths[index % len(self.paths)]} has {F} frames, fewer than num_frames={n}")
        start = int(rng.integers(0, F - n + 1))
        win = slice(start, start + n)
        src_cam = int(rng.integers(C))
        if self.segments == "equal":
            plan = augment.official_stitch_plan(rng, n, C, self.max_clips, self.latent_cuts, self.frames_per_latent)
        else:
            plan = augment.stitch_plan(rng, n, C, self.max_clips)
        if self.p_same_camera and rng.random() < self.p_same_camera:  # drawn only when asked: p = 0 keeps every sample
            plan = np.full_like(plan, src_cam)
        src, src_lm = cap.videos[src_cam, win], cap.landmarks2d[src_cam, win]
        tgt, tgt_lm = augment.stitch(cap.videos[:, win], cap.landmarks2d[:, win], plan)
        # anchor: the head at the clip's start instant, seen from each segment's camera
        cond_lm = cap.landmarks2d[plan, start] if self.condition == "anchor" else tgt_lm
        h, w = tgt.shape[1:3]
        A_src, A = _identity(n), _identity(n)
        if self.augment:
            src, tgt = self.augment.background(rng, src, tgt)
            A_src = self.augment.source(rng, n, h, w)
            A = self.augment.target(rng, n, h, w)
            src, src_lm = _warp(src, src_lm, A_src, self.fill)
            tgt, tgt_lm = _warp(tgt, tgt_lm, A, self.fill)
            cond_lm = augment.transform_landmarks(cond_lm, A)
        K = augment.adjust_intrinsics(cap.K[plan], A)
        src_K = augment.adjust_intrinsics(cap.K[[src_cam]], A_src[:1])[0]  # one similarity for all its frames
        lo, hi = np.log(self.scene_scale_range)
        scene_scale = float(np.exp(rng.uniform(lo, hi))) if hi > lo else float(np.exp(lo))  # drawn last
        return {
            "source": _to_tensor(src),
            "target": _to_tensor(tgt),
            "condition": _to_tensor(draw_condition(cond_lm, h, w, supersample=self.supersample)),
            "R": torch.from_numpy(cap.R[plan]),
            "t": torch.from_numpy(cap.t[plan]),
            "K": torch.from_numpy(K),
            "head_pose": torch.from_numpy(cap.head_pose[win]),
            "plan": torch.from_numpy(plan),
            "source_R": torch.from_numpy(cap.R[src_cam]),
            "source_t": torch.from_numpy(cap.t[src_cam]),
            "source_K": torch.from_numpy(np.asarray(src_K)),
            "warp": torch.from_numpy(A),
            "source_warp": torch.from_numpy(A_src[0]),
            "condition_landmarks": torch.from_numpy(cond_lm.astype(np.float32)),
            "start": torch.tensor(start),
            "scene_scale": torch.tensor(scene_scale, dtype=torch.float64),
        }


class MonocularDataset(torch.utils.data.Dataset):
    """FaceCam triplets from a folder of ordinary videos, as the official in-the-wild dataset makes
    them: the first ``num_frames`` frames (``start="first"``; ``"random"``: a random window, the kit's
    earlier) cropped to ``height`` x ``width`` with the inference crop (``crop``;
    :func:`facecam_kit.data.input_video.crop_window`; False: the frames as read); the condition
    MediaPipe's landmarks of that first frame (``condition="anchor"``; ``"per_frame"``: every
    frame's, the earlier); the source still-augmented with a scale ~ U(1, 1.5) at a random position,
    the target moving with scales ~ U(1, 1.5) (module docstring for the rule names; the earlier
    kit: source not augmented, ``source_scale_range=None``, target ``"zoom_or_pan"``). Landmarks are
    detected once per video (cached); ``supersample`` as :class:`StudioDataset`. Items ``source``,
    ``target``, ``condition``, ``warp``, ``source_warp``, ``condition_landmarks`` as
    :class:`StudioDataset`; no cameras.
    """

    def __init__(
        self,
        folder,
        num_frames: int = 17,
        samples_per_video: int = 4,
        seed: int = 0,
        condition: str = "anchor",
        supersample: int = 1,
        start: str = "first",
        crop: bool = True,
        height: int = HEIGHT,
        width: int = WIDTH,
        target_motion: str = "zoom_and_pan",
        target_scale_range: tuple[float, float] = (1.0, 1.5),
        source_scale_range: tuple[float, float] | None = (1.0, 1.5),
        source_position: str = "random",
        fill: str = "corners",
    ):
        check_num_frames(num_frames)
        check_options(
            condition=condition,
            supersample=supersample,
            start=start,
            crop=crop,
            height=height,
            width=width,
            target_motion=target_motion,
            target_scale_range=target_scale_range,
            source_scale_range=source_scale_range,
            source_position=source_position,
            fill=fill,
        )
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv"))
        if not self.files:
            raise ValueError(f"no videos (.mp4/.mov/.avi/.mkv) in {folder}")
        self._read = lru_cache(maxsize=4)(self._clip)
        self._landmarks = {}
        self.num_frames, self.samples_per_video, self.seed = num_frames, samples_per_video, seed
        self.condition, self.start, self.crop, self.size, self.fill = condition, start, crop, (height, width), fill
        self.supersample = supersample
        self.augment = _Augmenter(0.0, 1.0, source_scale_range, source_position, target_motion, target_scale_range)

    def _clip(self, path: Path) -> np.ndarray:
        """The video's frames, with ``crop`` resized and cropped as the inference crops (the first frame's window)."""
        import cv2

        from facecam_kit.data.input_video import crop_window
        from facecam_kit.video import read_video

        frames = read_video(path)[0]
        if not self.crop or len(frames) == 0:
            return frames
        (new_h, new_w), (top, left) = crop_window(frames[0], *self.size)
        h, w = self.size
        resized = (cv2.resize(f, (new_w, new_h), interpolation=cv2.INTER_AREA) for f in frames)
        return np.stack([f[top : top + h, left : left + w] for f in resized])

    def __len__(self) -> int:
        return len(self.files) * self.samples_per_video

    def _detect(self, path: Path, frames: np.ndarray, start: int) -> np.ndarray:
        """(F, 478, 2) landmarks of the clip: per frame, or the first frame's repeated (anchor)."""
        from facecam_kit.face.landmarks import detect_landmarks, detect_landmarks_video

        key = (path, start if self.condition == "anchor" else None)
        if key not in self._landmarks:
            n = self.num_frames
            if self.condition == "anchor":
                lm = detect_landmarks(frames[start], f"frame {start} of {path}")[None, :, :2]
                self._landmarks[key] = np.repeat(lm, n, 0)
            else:
                self._landmarks[key] = detect_landmarks_video(frames, str(path), progress=False)[..., :2]
        lm = self._landmarks[key]
        return lm if self.condition == "anchor" else lm[start : start + self.num_frames]

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index])
        path = self.files[index % len(self.files)]
        frames = self._read(path)
        n = self.num_frames
        if len(frames) < n:
            raise ValueError(f"{path} has {len(frames)} frames, fewer than num_frames={n}")
        start = int(rng.integers(0, len(frames) - n + 1)) if self.start == "random" else 0
        clip = frames[start : start + n]
        lm = self._detect(path, frames, start)
        h, w = clip.shape[1:3]
        A_src = self.augment.source(rng, n, h, w)
        A = self.augment.target(rng, n, h, w)
        src, _ = _warp(clip, lm, A_src, self.fill)
        tgt, cond_lm = _warp(clip, lm, A, self.fill)
        return {
            "source": _to_tensor(src),
            "target": _to_tensor(tgt),
            "condition": _to_tensor(draw_condition(cond_lm, h, w, supersample=self.supersample)),
            "warp": torch.from_numpy(A),
            "source_warp": torch.from_numpy(A_src[0]),
            "condition_landmarks": torch.from_numpy(cond_lm.astype(np.float32)),
        }
