"""The mini experiment: which camera condition lets a model control the camera when scale is unknown.

Test scenes (:func:`make_scenes`): held-out heads (never seen in training) filmed by a still source
camera while they nod and turn, and their ground-truth target videos along trajectories that
training never shows (continuous orbits and ReCamMaster presets, where training sees only
stitched cuts between studio cameras and zoom/pan). Each trajectory is a **metric** camera motion,
played in scenes of several scales: at scale ``s`` the head and its distance are ``s`` times
those of the studio (the source video is the same pixel for pixel), and the camera moves by the
same metres, so it moves ``1 / s`` as far relative to the head. Scale 1 is setting (a), the
training scale; 0.5 and 2 are setting (b), outside the training range. The extrinsic and Plücker
conditions of a trajectory are the same at every scale; the landmark condition and the true
target are not (notebook 01's argument, now learnt).

Scores (:func:`score`): PSNR and SSIM against the ground truth; where the head is (centre of the
non-white pixels, px) and how big (square root of their area, relative); and on the frames where
MediaPipe finds a face in the generated video, the landmarks' distance to where the target
camera puts them (px) and the camera recovered by PnP (RotErr, degrees), with
:mod:`facecam_kit.evaluation.camera_accuracy`.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from tqdm.auto import tqdm

from facecam_kit.geometry.camera import CameraPath, camera_centers

#: trajectories of the test, each a function of the source camera's azimuth (degrees) and the frame count
ORBITS = {"orbit_left": (0.0, -30.0, 0.0, 0.0), "orbit_right": (0.0, 30.0, 0.0, 0.0), "orbit_up": (0.0, 0.0, 0.0, 15.0)}
PRESETS = ("arc_left", "arc_right", "tilt_up", "translate_up")  # pans lose the face at this lens
SETTINGS = {"a": (1.0,), "b": (0.5, 2.0)}
SOURCE_AZIMUTHS = (-15.0, 0.0, 15.0)
HFOV = 30.0  # the studio's lens (facecam_kit.data.studio.CAMERA_HFOV)
#: a pixel belongs to the head when some channel is this far from the white background
FOREGROUND_THRESHOLD = 40


def trajectory_cameras(name: str, azimuth: float, num_frames: int) -> CameraPath:
    """A test trajectory from a source camera at ``azimuth`` on the studio's orbit (scale 1)."""
    from facecam_kit.geometry.trajectory import OrbitTrajectory, PresetTrajectory

    if name in ORBITS:
        a0, a1, e0, e1 = ORBITS[name]
        return OrbitTrajectory((azimuth + a0, azimuth + a1), (e0, e1), (HFOV, HFOV), num_frames).cameras()
    if name in PRESETS:
        start = OrbitTrajectory(azimuth=(azimuth, azimuth), hfov=(HFOV, HFOV), num_frames=1)
        return PresetTrajectory(name, num_frames, start=start).cameras()
    raise ValueError(f"unknown test trajectory {name!r}; choose one of {sorted([*ORBITS, *PRESETS])}")


def scaled_path(path: CameraPath, scale: float) -> CameraPath:
    """The same metric camera motion in a scene ``scale`` times larger, in the studio's units: the
    camera turns as before, its centre moves ``1 / scale`` as far from the first one."""
    c = camera_centers(path.R, path.t)
    c = c[0] + (c - c[0]) / scale
    return CameraPath(path.R, -np.einsum("fij,fj->fi", path.R, c), path.hfov_deg)


@dataclass
class Scene:
    """One test clip. source, target, condition: (F, S, S, 3) uint8; extrinsics (f, 12); plucker
    (6, f, S/8, S/8); cameras: the target's CameraPath in studio units; head_poses (F, 4, 4);
    landmarks3d (478, 3) in the head's frame; target_landmarks (F, 478, 2) pixels."""

    name: str
    head: int
    trajectory: str
    scale: float
    setting: str
    source: np.ndarray
    target: np.ndarray
    condition: np.ndarray
    extrinsics: np.ndarray
    plucker: np.ndarray
    cameras: CameraPath
    head_poses: np.ndarray
    landmarks3d: np.ndarray
    target_landmarks: np.ndarray

    def camera_condition(self, kind: str):
        """What a model of ``kind`` is given: the condition video, or the (1, …) tensor of rays or poses."""
        if kind == "landmarks":
            return self.condition
        return torch.from_numpy(self.plucker if kind == "plucker" else self.extrinsics).float()[None]


def _visible(landmarks: np.ndarray, size: int, share: float = 0.9) -> bool:
    inside = np.isfinite(landmarks).all(-1) & (landmarks >= 0).all(-1) & (landmarks < size).all(-1)
    return bool(inside.mean() >= share)


@dataclass
class HeldOutHead:
    """A head no model trained on, filmed by a still source camera: the start of every test scene."""

    index: int
    head: object  # ProxyHead
    poses: np.ndarray  # (F, 4, 4) head-to-world
    azimuth: float
    R: np.ndarray  # the source camera
    t: np.ndarray
    K: np.ndarray
    source: np.ndarray  # (F, S, S, 3) uint8
    landmarks: np.ndarray  # (F, 478, 3) world landmarks of each frame


@lru_cache(maxsize=1)
def _portrait() -> tuple[np.ndarray, np.ndarray]:
    """The sample portrait and its landmarks, which texture every studio head (detected once)."""
    from facecam_kit.assets import load_sample_portrait
    from facecam_kit.face.landmarks import detect_landmarks

    photo = load_sample_portrait()
    return photo, detect_landmarks(photo, "the sample portrait")


def held_out_head(index: int, size: int = 96, num_frames: int = 9, seed: int = 1000) -> HeldOutHead:
    """Held-out head ``index`` (seeded by ``(seed, index)``; the training heads come from seed 0),
    nodding and turning in front of a source camera at one of ``SOURCE_AZIMUTHS``."""
    from facecam_kit.data.studio import film, head_motion, studio_cameras, studio_head

    rng = np.random.default_rng([seed, index])
    head = studio_head(rng, *_portrait(), seed + index)
    poses = head_motion(rng, num_frames)
    azimuth = float(SOURCE_AZIMUTHS[index % len(SOURCE_AZIMUTHS)])
    R, t, K, _ = studio_cameras(1, size, azimuths=[azimuth])
    source = film(head, poses, R[:, None], t[:, None], K[:, None], size)[0]
    landmarks = np.einsum("fij,nj->fni", poses[:, :3, :3], head.landmarks) + poses[:, None, :3, 3]
    return HeldOutHead(index, head, poses, azimuth, R[0], t[0], K[0], source, landmarks)


def make_scene(h: HeldOutHead, path: CameraPath, scale: float, trajectory: str, setting: str) -> Scene | None:
    """The scene of ``h`` along ``path`` (a metric camera motion, studio units at scale 1) in a scene
    of ``scale``; None when the camera would lose the face (under 90% of the landmarks in frame, or
    within 1 unit of the head)."""
    from facecam_kit.data.studio import film
    from facecam_kit.face.condition import draw_condition
    from facecam_kit.geometry.camera import project_points
    from facecam_kit.train.cache import latent_conditions

    size = h.source.shape[1]
    path = scaled_path(path, scale)
    K = path.intrinsics(size, size)
    lm2d = np.stack([project_points(h.landmarks[f], path.R[f], path.t[f], K[f]) for f in range(len(path))])
    if not _visible(lm2d, size) or np.any(path.t[:, 2] < 1.0):
        return None
    extrinsics, plucker = latent_conditions(h.R, h.t, path.R, path.t, K, size, size, scale)
    return Scene(
        name=f"head{h.index}_{trajectory}_x{scale:g}",
        head=h.index,
        trajectory=trajectory,
        scale=scale,
        setting=setting,
        source=h.source,
        target=film(h.head, h.poses, path.R[None], path.t[None], K[None], size)[0],
        condition=draw_condition(lm2d, size, size),
        extrinsics=extrinsics,
        plucker=np.ascontiguousarray(plucker),
        cameras=path,
        head_poses=h.poses,
        landmarks3d=h.head.landmarks,
        target_landmarks=lm2d,
    )


def make_scenes(
    num_heads: int,
    trajectories=(*ORBITS, *PRESETS),
    settings=SETTINGS,
    size: int = 96,
    num_frames: int = 9,
    seed: int = 1000,
    progress: bool = True,
) -> list[Scene]:
    """Test scenes of ``num_heads`` held-out heads (:func:`held_out_head`), every trajectory at
    every scale of ``settings`` where the camera keeps the face (:func:`make_scene`)."""
    scenes = []
    for i in tqdm(range(num_heads), desc="test scenes", disable=not progress):
        h = held_out_head(i, size, num_frames, seed)
        for tr in trajectories:
            base = trajectory_cameras(tr, h.azimuth, num_frames)
            for setting, scales in settings.items():
                scenes += [sc for s in scales if (sc := make_scene(h, base, s, tr, setting)) is not None]
    return scenes


def generate(pipe, scene: Scene, steps: int = 20, seed: int = 0) -> np.ndarray:
    """A FaceCam-mini pipeline's video for a scene: (F, S, S, 3) uint8 (no text, so no guidance)."""
    from facecam_kit.mini.models import text_embeddings

    out = pipe(
        scene.source,
        scene.camera_condition(pipe.config.camera_kind),
        prompt_embeds=text_embeddings(pipe),
        num_inference_steps=steps,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(seed),
    ).frames[0]
    return (out * 255 + 0.5).astype(np.uint8)


def head_box(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (F, 2) px and size (F,) px (square root of the area) of the non-white pixels of each frame."""
    mask = (255 - frames.astype(np.int16)).max(-1) > FOREGROUND_THRESHOLD
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    area = mask.sum((1, 2)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.stack([(mask * xs).sum((1, 2)) / area, (mask * ys).sum((1, 2)) / area], 1)
    return centre, np.sqrt(area)


def score(scene: Scene, generated: np.ndarray) -> dict:
    """Every metric of one generated video against its scene (module docstring)."""
    from facecam_kit.evaluation.camera_accuracy import camera_accuracy
    from facecam_kit.evaluation.fidelity import psnr_per_frame, ssim_per_frame
    from facecam_kit.face.landmarks import detect_landmarks_video

    gc, gs = head_box(generated)
    tc, ts = head_box(scene.target)
    lm = detect_landmarks_video(generated, scene.name, progress=False, allow_missing=True)
    S = scene.target.shape[1]
    acc = camera_accuracy(
        lm, scene.cameras, scene.landmarks3d, S, S, scene.head_poses, condition_landmarks=scene.target_landmarks
    )
    detected = acc["detected"]
    with np.errstate(invalid="ignore", divide="ignore"):  # a frame without a head (area 0) is NaN
        size_err = np.abs(gs - ts) / ts
    return {
        "psnr": float(np.mean(psnr_per_frame(generated, scene.target))),
        "ssim": float(np.mean(ssim_per_frame(generated, scene.target))),
        "centre_px": _nan_mean(np.linalg.norm(gc - tc, axis=1)),
        "size_err": _nan_mean(size_err),
        "detect_rate": float(detected.mean()),
        "landmark_px": _nan_mean(np.where(detected, acc["landmark_px"], np.nan)),
        "rot_err_deg": _nan_mean(acc["rot_err_deg"]),  # the reference frame is NaN (not scored)
    }


def run_experiment(pipes: dict, scenes: list[Scene], steps: int = 20, seed: int = 0, progress: bool = True):
    """Generate and score every scene with every model. pipes: kind -> pipeline.

    Returns (rows, videos): one dict per (model, scene) with the scene's setting, trajectory and
    scale and the scores of :func:`score`; videos[(kind, scene name)] the generated frames.
    """
    rows, videos = [], {}
    for kind, pipe in pipes.items():
        for sc in tqdm(scenes, desc=f"FaceCam-mini {kind}", disable=not progress):
            video = generate(pipe, sc, steps, seed)
            videos[(kind, sc.name)] = video
            rows.append(
                {"model": kind, "scene": sc.name, "setting": sc.setting, "trajectory": sc.trajectory, "scale": sc.scale}
                | score(sc, video)
            )
    return rows, videos


METRICS = ("psnr", "ssim", "centre_px", "size_err", "detect_rate", "landmark_px", "rot_err_deg")


def _nan_mean(values) -> float:
    """Mean of the finite values; NaN when there is none (e.g. no face detected in any frame)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def summary(rows: list[dict]) -> dict:
    """{model: {setting: {metric: mean over scenes (NaN-aware)}}}."""
    out = {}
    for r in rows:
        out.setdefault(r["model"], {}).setdefault(r["setting"], []).append(r)
    return {
        m: {s: {k: _nan_mean([r[k] for r in rs]) for k in METRICS} for s, rs in by.items()} for m, by in out.items()
    }
