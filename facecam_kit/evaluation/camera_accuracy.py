"""Camera accuracy of a generated video (the paper's Table 2; its exact definition is not public).

Our definition, step by step:

1. **Recover the cameras.** Detect MediaPipe's landmarks on every generated frame and solve PnP
   (:func:`~facecam_kit.data.path_from_video.solve_cameras`) of the 468 mesh points (irises excluded: they
   follow the gaze) against the person's own 3D landmarks in the proxy world: by default
   :func:`~facecam_kit.proxy.head.personalised_landmarks` of the source video, i.e. the person's
   shape at the template's size. PnP gives the *face-centric* camera (head to camera). When the
   head itself moves (``head_poses``, head-to-world per frame, as studio captures record), that
   motion is removed, ``C_i = P_i H_i^-1``; without it, head motion counts as camera error.
   Intrinsics are the requested ones (the condition's). Frames without a face are NaN.
2. **RotErr / TransErr, as CamI2V defines them.** Both paths are made relative to their first
   frame with a face (reference frame r): ``R_i R_r^T`` and the camera centre of frame i in
   camera r's coordinates. RotErr_i (degrees) is the angle of ``R_est,rel R_req,rel^T``;
   TransErr_i is the distance between the relative centres divided by the requested camera's
   distance to the head centre at frame r. Frame r itself is not scored (NaN: its errors are 0 by
   construction), so a video with a face in one frame only has no RotErr, not a perfect one. Why
   this scale rather than CamI2V's per-path normalisation: PnP against the head's 3D landmarks
   already measures translation in head units, so the two paths share a scale, and pure rotations
   (pans, tilts) have no length to normalise.
   What stays ambiguous is the person's true size: a head 10% larger than the template looks 10%
   farther, so TransErr has a floor of that order on real people (notebook 01's lesson).
3. **Landmark distance** (px): the mean distance of the detected mesh points from where the
   condition puts them (the 3D landmarks projected by the requested cameras, head motion
   included), per frame.
4. **Motion type.** The recovered relative motion is scored against each of ReCamMaster's 10
   presets (same frames, same ``units_per_metre``), by the mean over frames of RotErr in radians
   plus TransErr (commensurate: orbiting a head by x rad moves the camera x distances), and
   classified as the nearest. Accuracy over a set of videos = the share whose class is the
   requested preset.

Taught in notebook 09 (learning camera control at mini scale).
"""

from __future__ import annotations

import numpy as np

from facecam_kit.data.path_from_video import MESH_POINTS, solve_cameras
from facecam_kit.face.topology import NUM_LANDMARKS
from facecam_kit.geometry.camera import CameraPath, project_points, relative_pose, rotation_angle_deg
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    RECAMMASTER_PRESETS,
    OrbitTrajectory,
    PresetTrajectory,
)
from facecam_kit.spec import TEMPORAL_COMPRESSION


def _check_head_poses(head_poses, num_frames: int) -> np.ndarray:
    H = np.asarray(head_poses, dtype=np.float64)
    if H.shape != (num_frames, 4, 4):
        raise ValueError(f"head_poses must have shape ({num_frames}, 4, 4) (head-to-world per frame), got {H.shape}")
    return H


def remove_head_motion(R, t, head_poses) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``C = P H^-1`` from face-centric poses P (R (F, 3, 3), t (F, 3)) and the
    head's head-to-world transforms H (F, 4, 4)."""
    H = _check_head_poses(head_poses, len(R))
    Rc = R @ np.swapaxes(H[:, :3, :3], 1, 2)
    return Rc, t - np.einsum("fij,fj->fi", Rc, H[:, :3, 3])


def face_centric(cameras: CameraPath, head_poses=None) -> tuple[np.ndarray, np.ndarray]:
    """Head-to-camera ``C H`` of requested cameras and head motion (F, 4, 4) (None: a still head)."""
    if head_poses is None:
        return cameras.R, cameras.t
    H = _check_head_poses(head_poses, len(cameras))
    return cameras.R @ H[:, :3, :3], np.einsum("fij,fj->fi", cameras.R, H[:, :3, 3]) + cameras.t


def pose_errors(R_est, t_est, R_req, t_req, ref: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CamI2V's RotErr (degrees) and TransErr of every frame, relative to frame ``ref``.

    R_*: (F, 3, 3), t_*: (F, 3) world-to-camera, with the head centre at the world origin.
    TransErr is divided by the requested camera's distance to the head centre at frame ``ref``.
    Returns two (F,) arrays (NaN where the estimate is NaN).
    """
    rel = []
    for R, t in ((R_est, t_est), (R_req, t_req)):
        R, t = np.asarray(R, dtype=np.float64), np.asarray(t, dtype=np.float64)
        R_rel, t_rel = relative_pose(R[ref], t[ref], R, t)
        # camera i's centre in camera ref's coordinates: -R_rel^T t_rel
        rel.append((R_rel, -np.einsum("fji,fj->fi", R_rel, t_rel)))
    (Re, ce), (Rq, cq) = rel
    scale = np.linalg.norm(np.asarray(t_req, dtype=np.float64)[ref])
    rot = rotation_angle_deg(Re @ np.swapaxes(Rq, 1, 2))
    return np.where(np.isfinite(ce).all(1), rot, np.nan), np.linalg.norm(ce - cq, axis=1) / scale


def path_errors(estimated: CameraPath, truth: CameraPath, points3d, height: int, width: int) -> dict[str, np.ndarray]:
    """How far a recovered camera path is from the true one, frame by frame (both F, head at the origin).

    ``rot_err_deg`` and ``trans_err``: :func:`pose_errors` relative to frame 0 (NaN there: 0 by
    construction); ``landmark_px``: the mean distance between ``points3d`` (N, 3) projected by the two
    paths on a ``height`` x ``width`` canvas, i.e. how far apart the two conditions draw the face.
    """
    if len(estimated) != len(truth):
        raise ValueError(f"the paths must have as many frames: {len(estimated)} and {len(truth)}")
    rot, trans = pose_errors(estimated.R, estimated.t, truth.R, truth.t, 0)
    rot[0] = trans[0] = np.nan
    px = np.linalg.norm(estimated.project(points3d, height, width) - truth.project(points3d, height, width), axis=-1)
    return {"rot_err_deg": rot, "trans_err": trans, "landmark_px": px.mean(1)}


def _reference_frame(R: np.ndarray) -> int | None:
    found = np.flatnonzero(np.isfinite(R).all((1, 2)))
    return int(found[0]) if len(found) else None


def classify_motion(
    R, t, units_per_metre: float = DEFAULT_UNITS_PER_METRE, start: OrbitTrajectory | None = None
) -> tuple[str | None, dict[str, float]]:
    """The ReCamMaster preset nearest to a recovered camera path (R (F, 3, 3), t (F, 3), F = 4k+1).

    Each preset is built with the same frame count, ``units_per_metre`` and start camera; its
    score is the mean over frames of RotErr (radians) + TransErr against the recovered path.
    Returns the best name (None if no frame has a camera) and every preset's score.
    """
    R, t = np.asarray(R, dtype=np.float64), np.asarray(t, dtype=np.float64)
    ref = _reference_frame(R)
    if ref is None:
        return None, {}
    start = start if start is not None else OrbitTrajectory(num_frames=1)
    scores = {}
    for name in RECAMMASTER_PRESETS:
        preset = PresetTrajectory(name, len(R), units_per_metre, start).cameras()
        rot, trans = pose_errors(R, t, preset.R, preset.t, ref)
        scores[name] = float(np.nanmean(np.deg2rad(rot) + trans))
    return min(scores, key=scores.get), scores


def camera_accuracy(
    landmarks,
    cameras: CameraPath,
    points3d,
    height: int,
    width: int,
    head_poses=None,
    condition_landmarks=None,
    preset: PresetTrajectory | None = None,
) -> dict:
    """Camera accuracy of one video (definitions in the module docstring).

    landmarks: (F, 478, 2|3) detected on the generated frames (NaN rows: no face); cameras: the
    requested CameraPath (F); points3d: (478, 3) the person's 3D landmarks; height, width: frame
    size (for the intrinsics); head_poses: (F, 4, 4) head-to-world or None (still head);
    condition_landmarks: (F, 478, 2) where the condition puts the landmarks (default: points3d
    projected by the requested cameras); preset: the requested trajectory when it is a ReCamMaster
    preset (its ``units_per_metre`` and start are used to classify the motion).

    Returns a dict: ``rot_err_deg``, ``trans_err`` (NaN at the reference frame and frames without a
    face), ``landmark_px``, ``detected`` (all (F,)), ``reference`` (the reference frame, None without a face), the
    recovered world-to-camera ``R`` (F, 3, 3) and ``t`` (F, 3), ``motion`` (the nearest preset,
    None for one frame, F not 4k+1 or no face), ``motion_scores`` and ``motion_correct`` (None unless
    ``preset`` is given).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    F = len(cameras)
    if lm.shape[:1] != (F,):
        raise ValueError(f"landmarks have {lm.shape[:1]} frames but the requested cameras {F}: they must match")
    R_face, t_face = face_centric(cameras, head_poses)
    if condition_landmarks is None:
        condition_landmarks = project_points(points3d, R_face, t_face, cameras.intrinsics(height, width))
    cond = np.asarray(condition_landmarks, dtype=np.float64)
    if cond.shape[:2] != (F, NUM_LANDMARKS):
        raise ValueError(f"condition_landmarks must have shape ({F}, {NUM_LANDMARKS}, 2), got {cond.shape}")
    landmark_px = np.linalg.norm(lm[:, :MESH_POINTS, :2] - cond[:, :MESH_POINTS, :2], axis=-1).mean(1)

    R, t = solve_cameras(lm, points3d, cameras.intrinsics(height, width))
    if head_poses is not None:
        R, t = remove_head_motion(R, t, head_poses)
    detected = np.isfinite(R).all((1, 2))
    ref = _reference_frame(R)
    if ref is None:
        rot = trans = np.full(F, np.nan)
    else:
        rot, trans = pose_errors(R, t, cameras.R, cameras.t, ref)
        rot[ref] = trans[ref] = np.nan  # relative to itself: 0 by construction, not a measurement
    motion, scores = None, {}
    if F > 1 and (F - 1) % TEMPORAL_COMPRESSION == 0:  # presets exist for 4k+1 frames; one frame has no motion
        kwargs = {} if preset is None else dict(units_per_metre=preset.units_per_metre, start=preset.start)
        motion, scores = classify_motion(R, t, **kwargs)
    return {
        "rot_err_deg": rot,
        "trans_err": trans,
        "landmark_px": landmark_px,
        "detected": detected,
        "reference": ref,
        "R": R,
        "t": t,
        "motion": motion,
        "motion_scores": scores,
        "motion_correct": None if preset is None or motion is None else motion == preset.name,
    }
