"""The mini experiment: which camera condition lets a model control the camera when scale is unknown.

Test scenes (:func:`make_sweep`): held-out heads (never seen in training) filmed by a still source
camera while they nod and turn, and their ground-truth target videos along trajectories that
training never shows (continuous orbits and ReCamMaster presets, where training sees only
stitched cuts between studio cameras and zoom/pan). Each trajectory is a **metric** camera motion,
played in scenes of several scales: at scale ``s`` the head and its distance are ``s`` times
those of the studio (the source video is the same pixel for pixel), and the camera moves by the
same metres, so it moves ``1 / s`` as far relative to the head; the sweep plays each at the
scales :data:`SCALES`, the ends of the training range among them. The extrinsic and Plücker
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
from functools import cached_property, lru_cache

import numpy as np
import torch
from tqdm.auto import tqdm

from facecam_kit.geometry.camera import CameraPath, camera_centers
from facecam_kit.geometry.trajectory import RECAMMASTER_PRESETS
from facecam_kit.spec import TEMPORAL_COMPRESSION

#: trajectories of the test, each a function of the source camera's azimuth (degrees) and the frame count
ORBITS = {"orbit_left": (0.0, -30.0, 0.0, 0.0), "orbit_right": (0.0, 30.0, 0.0, 0.0), "orbit_up": (0.0, 0.0, 0.0, 15.0)}
#: the scale sweep: scene scales of the test, log-spaced over the training range [0.5, 2]
SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)
#: camera moves of the sweep that keep the camera's orientation: dolly (along its axis), truck
#: (sideways), pedestal (up and down), as the move of the last frame in the source camera's axes
#: (OpenCV: x right, y down, z forward), in studio units at scale 1, reached linearly
MOVES = {
    "dolly_in": (0.0, 0.0, 0.45),
    "dolly_out": (0.0, 0.0, -0.6),
    "truck_left": (-0.18, 0.0, 0.0),
    "truck_right": (0.18, 0.0, 0.0),
    "pedestal_up": (0.0, -0.15, 0.0),
    "pedestal_down": (0.0, 0.15, 0.0),
}
#: the sweep's orbits about the head (at scale 1): smaller than ORBITS, so that at scale 0.5, where
#: the camera swings twice as far, the head stays in view
SWEEP_ORBITS = {
    "orbit_left": (0.0, -10.0, 0.0, 0.0),
    "orbit_right": (0.0, 10.0, 0.0, 0.0),
    "orbit_up": (0.0, 0.0, 0.0, 6.0),
}
#: the sweep's trajectories: each moves the camera centre (so the scale matters), gently enough that
#: the head stays in view at every scale (:func:`make_sweep` counts and names any (head, trajectory)
#: that does not). ReCamMaster's arcs are not among them: scaled, their turn outgrows their swing.
SWEEP = (*SWEEP_ORBITS, *MOVES)
#: pure rotations: no camera centre moves, so every scale shows the same target (an invariance check,
#: kept outside the scale averages); pans turn the face out of this 30-degree lens
ROTATIONS = ("tilt_up", "tilt_down")
#: Table 2's motion types: ReCamMaster's 10 presets (at the kit's 2.7 / 4 units per metre)
PRESETS_TABLE2 = tuple(RECAMMASTER_PRESETS)
SOURCE_AZIMUTHS = (-15.0, 0.0, 15.0)
HFOV = 30.0  # the studio's lens (facecam_kit.data.studio.CAMERA_HFOV)
#: a pixel belongs to the head when some channel is this far from the white background
FOREGROUND_THRESHOLD = 40


def preset_trajectory(name: str, azimuth: float, num_frames: int):
    """ReCamMaster's preset ``name`` from a source camera at ``azimuth`` on the studio's orbit (a PresetTrajectory)."""
    from facecam_kit.geometry.trajectory import OrbitTrajectory, PresetTrajectory

    start = OrbitTrajectory(azimuth=(azimuth, azimuth), hfov=(HFOV, HFOV), num_frames=1)
    return PresetTrajectory(name, num_frames, start=start)


def trajectory_cameras(name: str, azimuth: float, num_frames: int, orbits: dict = ORBITS) -> CameraPath:
    """A test trajectory from a source camera at ``azimuth`` on the studio's orbit (scale 1): one of
    ``orbits``, a move of :data:`MOVES`, or a ReCamMaster preset (metres at the kit's 2.7 / 4 units)."""
    from facecam_kit.geometry.trajectory import OrbitTrajectory

    start = OrbitTrajectory(azimuth=(azimuth, azimuth), hfov=(HFOV, HFOV), num_frames=1)
    if name in orbits:
        a0, a1, e0, e1 = orbits[name]
        return OrbitTrajectory((azimuth + a0, azimuth + a1), (e0, e1), (HFOV, HFOV), num_frames).cameras()
    if name in MOVES:
        first = start.cameras()
        ramp = np.linspace(0, 1, num_frames)[:, None] * np.asarray(MOVES[name])  # in the camera's axes
        centres = first.centers[0] + ramp @ first.R[0]  # R^T d, frame by frame
        R = np.repeat(first.R, num_frames, 0)
        return CameraPath.from_centres(R, centres, HFOV)
    if name in RECAMMASTER_PRESETS:
        return preset_trajectory(name, azimuth, num_frames).cameras()
    known = sorted([*orbits, *MOVES, *RECAMMASTER_PRESETS])
    raise ValueError(f"unknown test trajectory {name!r}; choose one of {known}")


def scaled_path(path: CameraPath, scale: float) -> CameraPath:
    """The same metric camera motion in a scene ``scale`` times larger, in the studio's units: the
    camera turns as before, its centre moves ``1 / scale`` as far from the first one."""
    c = camera_centers(path.R, path.t)
    c = c[0] + (c - c[0]) / scale
    return CameraPath.from_centres(path.R, c, path.hfov_deg)


@dataclass
class Scene:
    """One test clip. source, target, condition: (F, S, S, 3) uint8; extrinsics (f, 12) metric;
    extrinsics_head (f, 12) with translations in head units (the scale told); intrinsics (f, 8) the
    target's and source's normalised intrinsics; plucker (6, f, S/8, S/8); cameras: the target's
    CameraPath in studio units; head_poses (F, 4, 4); landmarks3d (478, 3) in the head's frame;
    target_landmarks (F, 478, 2) pixels (the moving head, per frame)."""

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
    extrinsics_head: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    generic_condition: np.ndarray | None = None
    source_azimuth: float = 0.0

    def camera_condition(self, kind: str, camera_dim: int = 12, units: str = "metric", head: str = "true"):
        """What a model of ``kind`` is given: the condition video of the ``head`` (true: the person's
        own landmarks, FaceCam's row; generic: the template placed on the source, FaceCam*'s), or
        the (1, …) tensor of rays or poses; extrinsics in ``units`` (metric | head), with the
        intrinsics when ``camera_dim`` is 20."""
        if kind == "landmarks":
            return self.generic_condition if head == "generic" else self.condition
        if kind == "plucker":
            return torch.from_numpy(self.plucker).float()[None]
        poses = self.extrinsics_head if units == "head" else self.extrinsics
        if camera_dim == 20:
            poses = np.concatenate([poses, self.intrinsics], 1)
        return torch.from_numpy(poses).float()[None]


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

    @cached_property
    def generic_landmarks(self) -> np.ndarray:
        """FaceCam*'s head: the generic template (478, 3) in the world, placed where PnP of its
        landmarks against MediaPipe's on the first source frame puts it (its size is the
        template's, not the person's). What inference knows: the source pixels and the template."""
        from facecam_kit.face.landmarks import detect_landmarks
        from facecam_kit.face.template import load_template
        from facecam_kit.geometry.pnp import solve_pnp

        template = load_template()
        detected = detect_landmarks(self.source[0], f"held-out head {self.index}'s first source frame")
        R, t = solve_pnp(template[:468], detected[:468, :2], self.K)  # template -> source camera
        in_camera = template @ R.T + t
        return (in_camera - self.t) @ self.R  # source camera -> world: R^T (x - t)


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


def make_scene(
    h: HeldOutHead,
    path: CameraPath,
    scale: float,
    trajectory: str,
    setting: str,
    condition: str = "per_frame",
    latent_scale: int = 8,
    supersample: int = 1,
    frames_per_latent: int = TEMPORAL_COMPRESSION,
    anchor_every: int | None = None,
) -> Scene | None:
    """The scene of ``h`` along ``path`` (a metric camera motion, studio units at scale 1) in a scene
    of ``scale``; None when the camera would lose the face (under 90% of the landmarks in frame, or
    within 1 unit of the head). ``condition``: per_frame (the moving head's landmarks in every
    frame, as FaceCam-mini v1 trained) or anchor (the head at frame 0 seen by every target camera,
    as the official recipe trains and the generic head is drawn at inference); ``anchor_every``: the
    anchor moved to every that many frames' first (the model's clip length: a long video
    conditioned in windows as its clips trained; None: frame 0 for all). Camera conditions at
    the latent resolution of a VAE that divides space by ``latent_scale`` and time by
    ``frames_per_latent``; conditions drawn at ``supersample`` times the size
    (``face.condition.draw_condition``), as the model trained."""
    from facecam_kit.baselines.recammaster import camera_with_intrinsics
    from facecam_kit.data.studio import film
    from facecam_kit.face.condition import draw_condition
    from facecam_kit.geometry.camera import project_points
    from facecam_kit.train.cache import latent_conditions

    if condition not in ("per_frame", "anchor"):
        raise ValueError(f"condition must be per_frame or anchor, got {condition!r}")
    size = h.source.shape[1]
    path = scaled_path(path, scale)
    K = path.intrinsics(size, size)
    project = lambda points: np.stack([project_points(points[f], path.R[f], path.t[f], K[f]) for f in range(len(path))])
    lm2d = project(h.landmarks)
    if not _visible(lm2d, size) or np.any(path.t[:, 2] < 1.0):
        return None
    every = anchor_every or len(path)
    anchors = np.arange(len(path)) // every * every
    drawn = lm2d if condition == "per_frame" else project(h.landmarks[anchors])
    generic = None
    if condition == "anchor":  # FaceCam*'s condition: the generic head, static, along the same path
        generic = draw_condition(
            project(np.repeat(h.generic_landmarks[None], len(path), 0)), size, size, supersample=supersample
        )
    grid = (latent_scale, frames_per_latent)
    extrinsics, plucker = latent_conditions(h.R, h.t, path.R, path.t, K, size, size, scale, *grid)
    extrinsics_head, _ = latent_conditions(h.R, h.t, path.R, path.t, K, size, size, 1.0, *grid)
    return Scene(
        name=f"head{h.index}_{trajectory}_x{scale:g}",
        head=h.index,
        trajectory=trajectory,
        scale=scale,
        setting=setting,
        source=h.source,
        target=film(h.head, h.poses, path.R[None], path.t[None], K[None], size)[0],
        condition=draw_condition(drawn, size, size, supersample=supersample),
        extrinsics=extrinsics,
        plucker=np.ascontiguousarray(plucker),
        cameras=path,
        head_poses=h.poses,
        landmarks3d=h.head.landmarks,
        target_landmarks=lm2d,
        extrinsics_head=extrinsics_head,
        intrinsics=camera_with_intrinsics(extrinsics, K[::frames_per_latent], h.K, size, size)[:, 12:],
        generic_condition=generic,
        source_azimuth=h.azimuth,
    )


def make_sweep(
    heads,
    trajectories=SWEEP,
    rotations=ROTATIONS,
    scales=SCALES,
    size: int = 96,
    num_frames: int = 9,
    seed: int = 1000,
    latent_scale: int = 8,
    progress: bool = True,
    setting: str = "sweep",
    supersample: int = 1,
    frames_per_latent: int = TEMPORAL_COMPRESSION,
) -> tuple[list[Scene], list[dict]]:
    """The scale sweep: every held-out head (``heads``: how many, 0 … n-1, or which indices) along
    every trajectory at every scale (``setting``), and the pure rotations at every scale (setting
    "rotation"), all with the anchor condition. A
    (head, trajectory) whose camera loses the face at some scale is left out at *every* scale, so
    that each scale averages the same scenes; it is returned in ``dropped`` with the scales that
    failed. Table 2's scenes are ReCamMaster's presets at scale 1: ``make_sweep(n, PRESETS_TABLE2,
    (), (1.0,), setting="table2")`` (the pans lose the face at this lens). ``supersample`` and
    ``frames_per_latent``: as :func:`make_scene`. Returns (scenes, dropped)."""
    scenes, dropped = [], []
    for i in tqdm(range(heads) if isinstance(heads, int) else heads, desc="test scenes", disable=not progress):
        h = held_out_head(i, size, num_frames, seed)
        for tr, kind in [(t, setting) for t in trajectories] + [(t, "rotation") for t in rotations]:
            base = trajectory_cameras(tr, h.azimuth, num_frames, SWEEP_ORBITS)
            made = {
                s: make_scene(h, base, s, tr, kind, "anchor", latent_scale, supersample, frames_per_latent)
                for s in scales
            }
            if failed := [s for s, sc in made.items() if sc is None]:
                dropped.append({"head": i, "trajectory": tr, "scales": failed})
            else:
                scenes += list(made.values())
    return scenes, dropped


def scene_camera(pipe, scene: Scene, **told):
    """What a pipeline is given of a scene's camera: :meth:`Scene.camera_condition` for its camera kind,
    with the intrinsics when its network reads them (``told``: ``units`` and ``head``)."""
    return scene.camera_condition(pipe.config.camera_kind, pipe.unet.config.camera_dim or 12, **told)


def generate(pipe, scene: Scene, steps: int | None = None, seed: int = 0, camera=None, start: float | None = None):
    """A FaceCam-mini pipeline's video for a scene: (F, S, S, 3) uint8. ``camera``: the condition it
    is given (default: the scene's for the pipeline's camera kind, metric, with the intrinsics when
    its network reads them; :meth:`Scene.camera_condition`); ``steps``, ``start``: the sampler's
    (None: the pipeline's defaults)."""
    if camera is None:
        camera = scene_camera(pipe, scene)
    return generate_batch(pipe, scene.source[None], [camera], steps, seed, start=start)[0]


def start_noise(pipe, frames: int, size: int, seed: int = 0) -> torch.Tensor:
    """The latents a FaceCam-mini generation of ``frames`` frames of ``size`` px starts from:
    (1, z_dim, frames, size / s, size / s) float32, one noise for every frame, drawn from ``seed``."""
    from facecam_kit.mini.unet import shared_noise
    from facecam_kit.mini.vae import spatial_compression

    s = spatial_compression(pipe.vae)
    shape = (1, pipe.vae.config.z_dim, frames, size // s, size // s)
    return shared_noise(shape, torch.Generator().manual_seed(seed))


def generate_batch(
    pipe,
    sources: np.ndarray,
    cameras: list,
    steps: int | None = None,
    seed: int = 0,
    callback_on_step_end=None,
    output_type: str = "np",
    start: float | None = None,
) -> np.ndarray | torch.Tensor:
    """Videos of B scenes in one pipeline call (a CPU runs a small network much faster on a batch).

    sources: (B, F, S, S, 3) uint8; cameras: B conditions, each a condition video (F, S, S, 3) uint8
    or a (1, …) tensor; ``callback_on_step_end``: the pipeline's (e.g. a progress display). Returns
    (B, F, S, S, 3) uint8, or with ``output_type="latent"`` the generated latents (B, z_dim, F, h, w).
    Every item starts from a lone call's noise of ``seed`` (:func:`start_noise`), so that a scene's
    video does not depend on the batch it was generated in (the experiment's rows can be regenerated
    one by one)."""
    from facecam_kit.mini.vae import clips_tensor

    if isinstance(cameras[0], np.ndarray):
        camera = clips_tensor(np.stack(cameras))
    else:
        camera = torch.cat([torch.as_tensor(c) for c in cameras])
    b, f, h = sources.shape[:3]
    noise = start_noise(pipe, f, h, seed).expand(b, -1, -1, -1, -1)
    sampler = {k: v for k, v in (("num_inference_steps", steps), ("start", start)) if v is not None}
    out = pipe(
        clips_tensor(sources),
        camera,
        **sampler,  # the pipeline's own defaults for what is not given
        latents=noise.contiguous(),
        callback_on_step_end=callback_on_step_end,
        output_type="latent" if output_type == "latent" else "np",
    ).frames
    return out if output_type == "latent" else (out * 255 + 0.5).astype(np.uint8)


def head_box(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (F, 2) px and size (F,) px (square root of the area) of the non-white pixels of each frame."""
    mask = (255 - frames.astype(np.int16)).max(-1) > FOREGROUND_THRESHOLD
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    area = mask.sum((1, 2)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.stack([(mask * xs).sum((1, 2)) / area, (mask * ys).sum((1, 2)) / area], 1)
    return centre, np.sqrt(area)


def score(scene: Scene, generated: np.ndarray, preset=None) -> dict:
    """Every metric of one generated video against its scene (module docstring), and TransErr;
    with ``preset`` (the scene's PresetTrajectory) ``motion_correct``: whether the recovered motion
    is classified as that preset (1.0 / 0.0; NaN without a face)."""
    from facecam_kit.evaluation.camera_accuracy import camera_accuracy
    from facecam_kit.evaluation.fidelity import psnr_per_frame, ssim_per_frame
    from facecam_kit.face.landmarks import detect_landmarks_video

    gc, gs = head_box(generated)
    tc, ts = head_box(scene.target)
    lm = detect_landmarks_video(generated, scene.name, progress=False, allow_missing=True)
    S = scene.target.shape[1]
    acc = camera_accuracy(
        lm,
        scene.cameras,
        scene.landmarks3d,
        S,
        S,
        scene.head_poses,
        condition_landmarks=scene.target_landmarks,
        preset=preset,
    )
    detected = acc["detected"]
    with np.errstate(invalid="ignore", divide="ignore"):  # a frame without a head (area 0) is NaN
        size_err = np.abs(gs - ts) / ts
    correct = acc["motion_correct"]
    return {
        "psnr": float(np.mean(psnr_per_frame(generated, scene.target))),
        "ssim": float(np.mean(ssim_per_frame(generated, scene.target))),
        "centre_px": _nan_mean(np.linalg.norm(gc - tc, axis=1)),
        "size_err": _nan_mean(size_err),
        "detect_rate": float(detected.mean()),
        "landmark_px": _nan_mean(np.where(detected, acc["landmark_px"], np.nan)),
        "rot_err_deg": _nan_mean(acc["rot_err_deg"]),  # the reference frame is NaN (not scored)
        "trans_err": _nan_mean(acc["trans_err"]),
        "motion_correct": float("nan") if correct is None else float(correct),
    }


def _nan_mean(values) -> float:
    """Mean of the finite values; NaN when there is none (e.g. no face detected in any frame)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


# -- the scale experiment (recipe "scale"): its rows, controls, scores and intervals -----------------
#: the rows of the scale experiment: row -> (the arm whose model generates, what it is told). FaceCam
#: draws the person's own anchor landmarks, FaceCam* the generic head placed on the source (the
#: paper's two rows); the extrinsic and Plücker arms get metric cameras, extrinsics_told head units.
ROWS = {
    "FaceCam": ("landmarks", {"head": "true"}),
    "FaceCam*": ("landmarks", {"head": "generic"}),
    "extrinsics": ("extrinsics", {}),
    "plucker": ("plucker", {}),
    "extrinsics_told": ("extrinsics_told", {"units": "head"}),
}
#: controls that bound every row: the source copied (no camera control at all), the VAE's round
#: trip of the ground truth (the best a model decoding through this VAE can score) and the ground
#: truth itself (the floor of every detector-based score: RotErr, TransErr, landmark distance)
CONTROLS = ("copy_source", "vae_round_trip", "ground_truth")
SCALE_METRICS = (
    "psnr",
    "ssim",
    "centre_px",
    "size_err",
    "detect_rate",
    "landmark_px",
    "rot_err_deg",
    "trans_err",
    "detect_truth",
    "identity",
    "motion_correct",
)


def faces_found(clip: np.ndarray) -> np.ndarray:
    """Which frames of a (F, S, S, 3) uint8 clip MediaPipe finds a face in: (F,) bool."""
    from facecam_kit.face.landmarks import detect_landmarks_video

    return np.isfinite(detect_landmarks_video(clip, "clip", False, allow_missing=True)[:, 0, 0])


def detection_rate(clips: np.ndarray) -> float:
    """Share of frames of (N, F, S, S, 3) clips in which MediaPipe finds a face."""
    return float(np.mean([faces_found(c) for c in clips]))


def row_videos(
    row: str, scenes: list[Scene], pipes: dict, vae=None, steps: int | None = None, seed: int = 0, start=None
) -> np.ndarray:
    """The videos (B, F, S, S, 3) uint8 of one row (:data:`ROWS`) or control (:data:`CONTROLS`) for
    ``scenes``, generated as one batch; pipes: arm -> pipeline; ``steps``, ``start``: the sampler's."""
    if row == "copy_source":
        return np.stack([sc.source for sc in scenes])
    if row == "ground_truth":
        return np.stack([sc.target for sc in scenes])
    if row == "vae_round_trip":
        from facecam_kit.mini.vae import reconstruct

        return reconstruct(vae, np.stack([sc.target for sc in scenes]))
    arm, told = ROWS[row]
    pipe = pipes[arm]
    cameras = [scene_camera(pipe, sc, **told) for sc in scenes]
    return generate_batch(pipe, np.stack([sc.source for sc in scenes]), cameras, steps, seed, start=start)


def score_scale(scene: Scene, generated: np.ndarray, truth_detected: float, identity: bool = True) -> dict:
    """:func:`score` (the motion classified on the "table2" scenes, ReCamMaster's presets), the
    detector's rate on the ground truth beside the generated one, and (with ``identity``) dlib's
    identity similarity to the source on the first, middle and last frames. PSNR here is the
    clip's (the squared error over all its frames): a frame equal to the truth, as the copied
    source's first frame is, would make a mean of per-frame PSNRs infinite."""
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.evaluation.identity import identity_similarity

    preset = None
    if scene.setting == "table2":
        preset = preset_trajectory(scene.trajectory, scene.source_azimuth, len(scene.target))
    out = score(scene, generated, preset)
    out["psnr"] = float(psnr(generated, scene.target))
    out["detect_truth"] = truth_detected
    out["identity"] = float("nan")
    if identity:
        frames = generated[[0, len(generated) // 2, -1]]
        try:
            out["identity"] = _nan_mean(identity_similarity(scene.source[:1], frames))
        except ValueError:  # dlib finds no face in the source frame: the score does not exist
            pass
    return out


def run_scale_experiment(
    pipes: dict,
    scenes: list[Scene],
    rows=(*ROWS, *CONTROLS),
    vae=None,
    steps: int | None = None,
    seed: int = 0,
    identity_scales=None,
    progress: bool = True,
    batch: int = 8,
    videos: dict | None = None,
    start: float | None = None,
) -> list[dict]:
    """Every row and control of the scale experiment on every scene, ``batch`` scenes per pipeline
    call (the sampler's ``steps`` and ``start``), dlib's identity scored on the scenes of
    ``identity_scales`` (None: every scene; it is two thirds of the scoring time). pipes: arm ->
    pipeline (one training seed; call once per seed). Returns one dict per (row, scene): ``row``,
    ``scene``, ``head``, ``trajectory``, ``scale``, ``setting`` and the scores of
    :func:`score_scale`; ``videos``, when given, is filled with {(row, scene name): (F, S, S, 3) uint8}."""
    truth = {sc.name: detection_rate(sc.target[None]) for sc in scenes}
    out = []
    for row in rows:
        for i in tqdm(range(0, len(scenes), batch), desc=f"FaceCam-mini {row}", disable=not progress):
            chunk = scenes[i : i + batch]
            for sc, video in zip(chunk, row_videos(row, chunk, pipes, vae, steps, seed, start)):
                if videos is not None:
                    videos[(row, sc.name)] = video
                meta = {"row": row, "scene": sc.name, "head": sc.head, "trajectory": sc.trajectory, "scale": sc.scale}
                identity = identity_scales is None or sc.scale in identity_scales
                out.append(meta | {"setting": sc.setting} | score_scale(sc, video, truth[sc.name], identity))
    return out
