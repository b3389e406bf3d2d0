"""How well ``trajectory from-video`` recovers a camera path: the tables of docs/cameras.md.

Studio heads (``data.studio``) filmed by cameras whose every pose is known, along the test's orbits,
dollies, trucks and pedestals and ReCamMaster's 10 presets (``mini.experiment.trajectory_cameras``),
each clip cloned by ``data.path_from_video.clone_camera_path`` and scored against its truth
(``evaluation.camera_accuracy.path_errors``): RotErr / TransErr of the reference's own viewpoints
(``anchor="world"``), and the landmark distance between the condition drawn from the cloned path
and from the true one, both re-anchored at the kit's start camera (``anchor="first"``, 704 x 480).
Then what it cannot tell: a wrong ``--hfov``, a head turning in front of a still camera, a zoom
against a dolly; and the time to clone an 81-frame clip.

    .venv/bin/python tools/clone_accuracy.py [--frames 25] [--size 256] [--heads 2] [--out outputs/clone_accuracy]

About 10 minutes on 2 CPU cores (rendering the clips); prints the tables in Markdown and writes
``results.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from facecam_kit.assets import load_sample_portrait
from facecam_kit.data.path_from_video import clone_camera_path, reanchor, solve_cameras, track_face
from facecam_kit.data.studio import film_path, studio_head
from facecam_kit.evaluation.camera_accuracy import path_errors
from facecam_kit.face.landmarks import detect_landmarks
from facecam_kit.face.template import load_template
from facecam_kit.geometry.camera import CameraPath, intrinsics_from_fov, rotation_about_axis
from facecam_kit.geometry.trajectory import RECAMMASTER_PRESETS, OrbitTrajectory
from facecam_kit.mini.experiment import MOVES, ORBITS, trajectory_cameras
from facecam_kit.spec import HEIGHT, WIDTH
from facecam_kit.video import write_video

LENS = 45.0  # the reference clips' lens: ReCamMaster's pans (20 degrees) keep the face in view
PATHS = (*ORBITS, *MOVES, *RECAMMASTER_PRESETS)
START = OrbitTrajectory(num_frames=1).cameras()


def with_lens(path: CameraPath, hfov: float) -> CameraPath:
    return CameraPath(path.R, path.t, np.full(len(path), hfov))


def score(clip: Path, truth: CameraPath, hfov: float = LENS, head: str = "generic") -> dict:
    """RotErr, TransErr (world anchor) and the landmark distance (first anchor) of one clone."""
    F, points = len(truth), load_template()
    world = clone_camera_path(clip, F, hfov=hfov, head=head, anchor="world", progress=False)
    e = path_errors(world.cameras, truth, points, HEIGHT, WIDTH)
    # anchor="first" is the world path re-anchored: derived, not read from the clip again
    px = path_errors(reanchor(world.cameras, START), reanchor(truth, START), points, HEIGHT, WIDTH)["landmark_px"]
    return {
        "rot_err_deg": float(np.nanmean(e["rot_err_deg"])),
        "rot_err_max_deg": float(np.nanmax(e["rot_err_deg"])),
        "trans_err": float(np.nanmean(e["trans_err"])),
        "landmark_px": float(px.mean()),
        "seconds": world.seconds,
    }


def focal_ratio(clip: Path, size: int) -> float:
    """The focal length that best explains the last frame's landmarks over the first's (PnP residual
    minimised over a grid of lenses): 1 for a dolly, the zoom's ratio for a zoom, if perspective tells."""
    lm = track_face(clip, 5, progress=False).landmarks
    best = []
    for frame in (lm[0], lm[-1]):
        residuals = {}
        for hfov in np.arange(15.0, 80.0, 1.0):
            K = intrinsics_from_fov(hfov, size, size)
            R, t = solve_cameras(frame[None], load_template(), K)
            uv = (K @ (R[0] @ load_template()[:468].T + t[0][:, None])).T
            residuals[hfov] = np.linalg.norm(uv[:, :2] / uv[:, 2:] - frame[:468, :2], axis=1).mean()
        best.append(min(residuals, key=residuals.get))
    return float(np.tan(np.deg2rad(best[0] / 2)) / np.tan(np.deg2rad(best[1] / 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=25)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("outputs/clone_accuracy"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    F, S = args.frames, args.size
    photo = load_sample_portrait()
    photo_lm = detect_landmarks(photo)
    heads = [studio_head(np.random.default_rng(900 + h), photo, photo_lm, 900 + h) for h in range(args.heads)]
    results: dict = {"frames": F, "size": S, "lens": LENS, "paths": {}}

    def clip(name: str, h: int, cams: CameraPath, head_poses=None) -> Path:
        path = args.out / f"{name}_head{h}.mp4"
        if not path.exists():
            write_video(path, film_path(heads[h], cams, S, head_poses))
        return path

    print("| path | RotErr (deg) generic / own head | max | TransErr generic / own | landmark px (704x480) |")
    print("|---|---:|---:|---:|---:|")
    for name in PATHS:
        truth = with_lens(trajectory_cameras(name, 0.0, F), LENS)
        rows = {k: [score(clip(name, h, truth), truth, head=k) for h in range(args.heads)] for k in ("generic", "own")}
        mean = {k: {m: float(np.mean([r[m] for r in v])) for m in v[0]} for k, v in rows.items()}
        results["paths"][name] = mean
        g, o = mean["generic"], mean["own"]
        print(
            f"| {name} | {g['rot_err_deg']:.2f} / {o['rot_err_deg']:.2f} | {g['rot_err_max_deg']:.2f} | "
            f"{g['trans_err']:.3f} / {o['trans_err']:.3f} | {g['landmark_px']:.1f} |"
        )

    print("\nA wrong --hfov (head 0; the clips' lens is 45):\n")
    print("| path | " + " | ".join(f"--hfov {v:g}: RotErr / TransErr / px" for v in (30, 45, 60, 75)) + " |")
    print("|---|" + "---:|" * 4)
    results["hfov"] = {}
    for name in ("orbit_left", "dolly_in", "truck_right", "arc_left"):
        truth = with_lens(trajectory_cameras(name, 0.0, F), LENS)
        cells = {v: score(clip(name, 0, truth), truth, hfov=v) for v in (30.0, 45.0, 60.0, 75.0)}
        results["hfov"][name] = {str(k): v for k, v in cells.items()}
        cols = [f"{c['rot_err_deg']:.2f} / {c['trans_err']:.3f} / {c['landmark_px']:.1f}" for c in cells.values()]
        print(f"| {name} | " + " | ".join(cols) + " |")

    # a head turning 20 degrees in front of a still camera, against the camera orbiting 20 degrees
    still = with_lens(trajectory_cameras("orbit_left", 0.0, 1), LENS)
    still = CameraPath(np.repeat(still.R, F, 0), np.repeat(still.t, F, 0), np.full(F, LENS))
    yaw = np.linspace(0.0, 20.0, F)
    poses = np.tile(np.eye(4), (F, 1, 1))
    poses[:, :3, :3] = rotation_about_axis([0, 0, 1], yaw)
    orbit = CameraPath(still.R @ poses[:, :3, :3], still.t, still.hfov_deg)  # the same views of the head
    turn = score(clip("head_turn", 0, still, poses), orbit)
    results["head_turn_vs_orbit"] = turn
    print(
        f"\nA head turning 20 degrees before a still camera, scored as the camera orbiting 20 degrees: "
        f"RotErr {turn['rot_err_deg']:.2f}, TransErr {turn['trans_err']:.3f}, {turn['landmark_px']:.1f} px"
    )

    # a zoom (the lens narrows 45 -> 30 degrees) against the dolly that grows the face as much
    zoom = CameraPath(np.repeat(still.R[:1], F, 0), np.repeat(still.t[:1], F, 0), np.linspace(LENS, 30.0, F))
    ratio = np.tan(np.deg2rad(30.0 / 2)) / np.tan(np.deg2rad(LENS / 2))
    dist = np.linalg.norm(still.centers[0]) * np.linspace(1.0, ratio, F)
    c = still.centers[0] / np.linalg.norm(still.centers[0]) * dist[:, None]
    dolly = CameraPath.from_centres(still.R, c, LENS)
    z, d = clip("zoom", 0, zoom), clip("zoom_dolly", 0, dolly)
    read = clone_camera_path(z, F, hfov=LENS, anchor="world", progress=False).cameras
    results["zoom"] = {
        "true_focal_ratio": float(1 / ratio),
        "zoom_focal_ratio": focal_ratio(z, S),
        "dolly_focal_ratio": focal_ratio(d, S),
        "zoom_read_as_distance_ratio": float(np.linalg.norm(read.centers[-1]) / np.linalg.norm(read.centers[0])),
        "dolly_vs_zoom_landmark_px": float(
            path_errors(dolly, read, load_template(), HEIGHT, WIDTH)["landmark_px"].mean()
        ),
    }
    print(f"\nZoom against dolly: {json.dumps(results['zoom'])}")

    # the time to clone an 81-frame clip at the official 704 x 480
    cams = with_lens(trajectory_cameras("arc_left", 0.0, 81), LENS)
    path = args.out / "arc_left_81_704x480.mp4"
    if not path.exists():
        frames = film_path(heads[0], cams, S)
        big = [cv2.resize(f, (HEIGHT, HEIGHT), interpolation=cv2.INTER_CUBIC)[:, 112 : 112 + WIDTH] for f in frames]
        write_video(path, big)
    t0 = time.perf_counter()
    clone_camera_path(path, 81, progress=False)
    results["clone_81_frames_s"] = time.perf_counter() - t0
    print(f"\nCloning an 81-frame 704x480 clip: {results['clone_81_frames_s']:.1f} s")
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
