"""A synthetic multi-view studio: NeRSemble-like captures of Gaussian heads, made on any machine.

Each capture is one head (shape and colours varied at random) filmed by synchronised cameras
on an arc in front of it while the head nods and turns. Ground truth comes with it: every
camera, the head pose per frame and the 2D/3D landmarks. Deterministic under a seed.

On-disk layout of a studio folder (one sub-folder per capture)::

    head_000/
      capture.json     format, num_cameras, num_frames, size, fps, seed, and per camera its
                       name, R (3x3 world-to-camera, OpenCV axes), t (3), K (3x3), azimuth_deg,
                       elevation_deg
      head_pose.npy    (F, 4, 4) head-to-world transform of each frame
      landmarks3d.npy  (F, 478, 3) world landmarks of each frame
      landmarks2d.npy  (C, F, 478, 2) their pixel projections in each camera
      cam_00.mp4 ...   one H.264 video per camera, size x size, 24 fps

Taught in notebook 04; its captures are ground truth in notebooks 05 and 07, and its moving
cameras (:func:`film_path`) in notebook 03's reference clips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from facecam_kit.face import topology
from facecam_kit.face.template import load_template
from facecam_kit.geometry.camera import (
    CameraPath,
    intrinsics_from_fov,
    look_at,
    orbit_cameras,
    orbit_positions,
    project_points,
    rotation_about_axis,
)
from facecam_kit.proxy.head import ProxyHead, textured_proxy_head
from facecam_kit.proxy.rasterise import render_gaussians
from facecam_kit.video import read_video, write_video

FORMAT = "facecam-kit studio v1"
CAMERA_HFOV = 30.0
ARC_DEG = 50.0  # cameras span +-50 degrees of azimuth, like NeRSemble's rig
#: a rig whose cameras each capture places anew (``make_studio(rig=VARIED_RIG)``, FaceCam-mini's):
#: distances log-uniform in ``distance_range`` times the arc's radius, aimed at points up to
#: ``aim_offset`` (head units; the face is about 0.6 wide) from the head centre, elevations in
#: ``elevation_range``, azimuths jittered by up to ``azimuth_jitter`` degrees. The translation between
#: two cameras is then not a function of their rotation, as it is on the arc.
VARIED_RIG = {"distance_range": (0.8, 1.4), "aim_offset": 0.08, "elevation_range": (-15.0, 15.0), "azimuth_jitter": 6.0}


@dataclass
class Capture:
    """One multi-view capture.

    videos (C, F, S, S, 3) uint8; R (C, 3, 3), t (C, 3), K (C, 3, 3) cameras; head_pose (F, 4, 4);
    landmarks3d (F, 478, 3); landmarks2d (C, F, 478, 2); meta: the capture.json contents.
    """

    videos: np.ndarray
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    head_pose: np.ndarray
    landmarks3d: np.ndarray
    landmarks2d: np.ndarray
    meta: dict


def random_head_shape(rng: np.random.Generator, template: np.ndarray | None = None) -> np.ndarray:
    """A new face shape (478, 3): the template stretched per axis, a longer or shorter nose and a
    wider or narrower jaw."""
    L = (load_template() if template is None else template).copy()
    L *= rng.uniform([0.85, 0.85, 0.88], [1.15, 1.15, 1.12])
    d = np.linalg.norm(L - L[topology.NOSE_TIP], axis=1)
    L[:, 1] -= rng.uniform(-0.04, 0.06) * np.exp(-((d / 0.12) ** 2))  # the face looks towards -Y
    jaw = np.clip((-L[:, 2] - 0.05) / 0.3, 0, 1)
    L[:, 0] *= 1 + rng.uniform(-0.15, 0.15) * jaw
    return L


def studio_cameras(num_cameras: int, size: int, azimuths=None):
    """Cameras on an arc in front of the head: R (C, 3, 3), t (C, 3), K (C, 3, 3), angles (C, 2).

    By default the azimuths span +-50 degrees (two rows of elevation with 8+ cameras); pass
    ``azimuths`` (C,) to place them yourself, at elevation 0.
    """
    if azimuths is not None:
        az = np.asarray(azimuths, dtype=np.float64)
        el = np.zeros(len(az))
        num_cameras = len(az)
    else:
        az = np.linspace(-ARC_DEG, ARC_DEG, num_cameras) if num_cameras > 1 else np.zeros(1)
        el = np.where(np.arange(num_cameras) % 2, -8.0, 8.0) if num_cameras >= 8 else np.zeros(num_cameras)
    cams = orbit_cameras(az, el, CAMERA_HFOV)
    K = np.repeat(intrinsics_from_fov(CAMERA_HFOV, size, size)[None], num_cameras, 0)
    return cams.R, cams.t, K, np.stack([az, el], 1)


def rig_cameras(
    rng: np.random.Generator,
    num_cameras: int,
    size: int,
    distance_range=(1.0, 1.0),
    aim_offset: float = 0.0,
    elevation_range=(0.0, 0.0),
    azimuth_jitter: float = 0.0,
):
    """Cameras of a varied rig (:data:`VARIED_RIG`), drawn from ``rng``: R (C, 3, 3), t (C, 3), K (C, 3, 3),
    angles (C, 2) (azimuth, elevation in degrees), distances (C,) from the aim point, aims (C, 3)."""
    from facecam_kit.spec import PROXY_RADIUS

    lo, hi = distance_range
    if not (0 < lo <= hi and aim_offset >= 0 and azimuth_jitter >= 0 and -90 < min(elevation_range)):
        raise ValueError(f"rig: distance_range {distance_range}, aim_offset {aim_offset} or elevations out of range")
    az = np.linspace(-ARC_DEG, ARC_DEG, num_cameras) + rng.uniform(-azimuth_jitter, azimuth_jitter, num_cameras)
    el = rng.uniform(*elevation_range, num_cameras)
    dist = PROXY_RADIUS * np.exp(rng.uniform(np.log(lo), np.log(hi), num_cameras))
    aims = rng.uniform(-aim_offset, aim_offset, (num_cameras, 3))
    R, t = look_at(aims + orbit_positions(az, el, 1.0) * dist[:, None], aims)
    K = np.repeat(intrinsics_from_fov(CAMERA_HFOV, size, size)[None], num_cameras, 0)
    return R, t, K, np.stack([az, el], 1), dist, aims


def head_motion(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Rigid head motion about the head centre: a turn and a nod. Returns (F, 4, 4) head-to-world."""
    s = np.linspace(0, 1, num_frames)
    yaw = rng.uniform(10, 25) * rng.choice([-1, 1]) * np.sin(2 * np.pi * s)
    pitch = rng.uniform(5, 15) * rng.choice([-1, 1]) * np.sin(4 * np.pi * s)
    poses = np.tile(np.eye(4), (num_frames, 1, 1))
    poses[:, :3, :3] = rotation_about_axis([0, 0, 1], yaw) @ rotation_about_axis([1, 0, 0], pitch)
    return poses


def film(head: ProxyHead, poses: np.ndarray, R, t, K, size: int, backend: str = "auto", bar=None) -> np.ndarray:
    """Render ``head`` moving by ``poses`` (F, 4, 4) with cameras R (C, F|1, 3, 3), t (C, F|1, 3),
    K (C, F|1, 3, 3): C videos, each camera fixed (1) or moving (F). Returns (C, F, size, size, 3) uint8
    on a white background. ``bar``: a tqdm bar updated once a view."""
    R, t, K = (np.array(np.broadcast_to(a, (a.shape[0], len(poses), *a.shape[2:]))) for a in (R, t, K))
    videos = np.empty((len(R), len(poses), size, size, 3), np.uint8)
    for f in range(len(poses)):
        g = head.posed(poses[f, :3, :3], poses[f, :3, 3])
        for c in range(len(R)):
            img = render_gaussians(g, R[c, f], t[c, f], K[c, f], size, size, backend=backend)
            videos[c, f] = (img.numpy() * 255 + 0.5).astype(np.uint8)
            if bar is not None:
                bar.update()
    return videos


def film_path(head: ProxyHead, cameras: CameraPath, size: int, head_poses=None, backend: str = "auto") -> np.ndarray:
    """``head`` filmed by a moving camera, one camera a frame (``cameras``: F, each with its own field of
    view across the ``size`` x ``size`` frame); ``head_poses`` (F, 4, 4) head-to-world, default still.
    Returns (F, size, size, 3) uint8: a reference clip whose every camera is known."""
    F = len(cameras)
    poses = np.tile(np.eye(4), (F, 1, 1)) if head_poses is None else np.asarray(head_poses, np.float64)
    K = intrinsics_from_fov(cameras.hfov_deg, size, size)
    return film(head, poses, cameras.R[None], cameras.t[None], K[None], size, backend)[0]


def studio_head(rng: np.random.Generator, photo: np.ndarray, photo_landmarks: np.ndarray, seed: int) -> ProxyHead:
    """One studio head: the photo tinted (brightness and skin tone), a random face shape, textured."""
    tint = rng.uniform(0.75, 1.15) * rng.uniform(0.92, 1.08, 3)
    tinted = np.clip(photo * tint, 0, 255).astype(np.uint8)
    return textured_proxy_head(tinted, photo_landmarks, random_head_shape(rng), seed=seed)


def make_capture(
    out_dir,
    head: ProxyHead,
    rng: np.random.Generator,
    num_cameras: int = 16,
    num_frames: int = 17,
    size: int = 256,
    seed: int = 0,
    backend: str = "auto",
    progress: bool = True,
    azimuths=None,
    rig: dict | None = None,
) -> Path:
    """Film ``head`` with the studio rig (or with ``rig``, :func:`rig_cameras` drawn from ``rng``) and
    write one capture folder (layout in the module doc)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if rig is None:
        R, t, K, angles = studio_cameras(num_cameras, size, azimuths)
    else:
        R, t, K, angles, _, _ = rig_cameras(rng, num_cameras, size, **rig)
    num_cameras = len(R)
    poses = head_motion(rng, num_frames)
    lm3d = np.einsum("fij,nj->fni", poses[:, :3, :3], head.landmarks) + poses[:, None, :3, 3]
    lm2d = np.stack(
        [np.stack([project_points(lm3d[f], R[c], t[c], K[c]) for f in range(num_frames)]) for c in range(num_cameras)]
    )
    bar = tqdm(total=num_cameras * num_frames, desc=f"studio {out_dir.name}", disable=not progress)
    videos = film(head, poses, R[:, None], t[:, None], K[:, None], size, backend, bar)
    bar.close()
    for c in range(num_cameras):
        write_video(out_dir / f"cam_{c:02d}.mp4", videos[c])
    np.save(out_dir / "head_pose.npy", poses)
    np.save(out_dir / "landmarks3d.npy", lm3d)
    np.save(out_dir / "landmarks2d.npy", lm2d)
    meta = {
        "format": FORMAT,
        "num_cameras": num_cameras,
        "num_frames": num_frames,
        "size": size,
        "fps": 24,
        "seed": seed,
        "cameras": [
            {
                "name": f"cam_{c:02d}",
                "R": R[c].tolist(),
                "t": t[c].tolist(),
                "K": K[c].tolist(),
                "azimuth_deg": float(angles[c, 0]),
                "elevation_deg": float(angles[c, 1]),
            }
            for c in range(num_cameras)
        ],
    }
    (out_dir / "capture.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out_dir


def make_studio(
    out_dir,
    num_heads: int = 4,
    num_cameras: int = 16,
    num_frames: int = 17,
    size: int = 256,
    seed: int = 0,
    backend: str = "auto",
    progress: bool = True,
    azimuths=None,
    rig: dict | None = None,
) -> list[Path]:
    """Generate ``num_heads`` captures under ``out_dir`` (head_000, head_001, ...).

    Heads are textured from the bundled portrait, with a random shape and a random colour tint.
    ``azimuths`` places the cameras yourself (see :func:`studio_cameras`); ``rig`` (e.g.
    :data:`VARIED_RIG`) gives every capture cameras of its own (:func:`rig_cameras`).
    """
    from facecam_kit.assets import load_sample_portrait
    from facecam_kit.face.landmarks import detect_landmarks

    rng = np.random.default_rng(seed)
    photo = load_sample_portrait()
    photo_lm = detect_landmarks(photo, "the sample portrait")
    paths = []
    for i in range(num_heads):
        head = studio_head(rng, photo, photo_lm, seed + i)
        paths.append(
            make_capture(
                Path(out_dir) / f"head_{i:03d}",
                head,
                rng,
                num_cameras,
                num_frames,
                size,
                seed,
                backend,
                progress,
                azimuths,
                rig,
            )
        )
    return paths


def load_capture(path) -> Capture:
    """Read a capture folder; a folder that does not match the layout raises ValueError."""
    path = Path(path)
    meta_path = path / "capture.json"
    if not meta_path.is_file():
        raise ValueError(
            f"{path} is not a studio capture: capture.json is missing (layout: see facecam_kit.data.studio)"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: format {meta.get('format')!r} is not {FORMAT!r}")
    names = [c["name"] for c in meta["cameras"]]
    missing = [
        n
        for n in ["head_pose.npy", "landmarks3d.npy", "landmarks2d.npy", *(f"{c}.mp4" for c in names)]
        if not (path / n).is_file()
    ]
    if missing:
        raise ValueError(f"capture {path} is incomplete: missing {missing}")
    videos = np.stack([read_video(path / f"{c}.mp4")[0] for c in names])
    expect = (meta["num_cameras"], meta["num_frames"], meta["size"], meta["size"], 3)
    if videos.shape != expect:
        raise ValueError(f"capture {path}: videos have shape {videos.shape}, capture.json says {expect}")
    cam = lambda k: np.array([c[k] for c in meta["cameras"]], dtype=np.float64)
    return Capture(
        videos,
        cam("R"),
        cam("t"),
        cam("K"),
        np.load(path / "head_pose.npy"),
        np.load(path / "landmarks3d.npy"),
        np.load(path / "landmarks2d.npy"),
        meta,
    )
