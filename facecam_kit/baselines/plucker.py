"""Plücker ray maps: FactorPortrait's per-pixel camera representation.

Each pixel's ray has origin ``o`` (the camera centre) and unit direction ``d`` in world
coordinates; its Plücker coordinates are ``(o x d, d)``: 6 numbers that depend only on the
camera, never on the scene. Two scenes related by a scale share none of their pixels but all
of their rays, which is why ray maps (like extrinsics) are ambiguous in scale.

Taught in notebook 07 (camera representations side by side); used in notebook 01.
"""

from __future__ import annotations

import numpy as np

from facecam_kit.geometry.camera import _check, camera_centers
from facecam_kit.spec import HEIGHT, WIDTH


def plucker_rays(K, R, t, height: int, width: int) -> np.ndarray:
    """Plücker ray map of one camera through pixel centres.

    K: (3, 3); R: (3, 3); t: (3,) world-to-camera. Returns (6, H, W) float64: ``o x d`` then ``d``.
    """
    K = _check("K", K, (3, 3), "(3, 3)")
    R = _check("R", R, (3, 3), "(3, 3)")
    t = _check("t", t, (3,), "(3,)")
    v, u = np.mgrid[:height, :width] + 0.5
    pix = np.stack([u, v, np.ones_like(u)], -1)
    d = pix @ np.linalg.inv(K).T @ R  # camera ray -> world: R^T d, applied row-wise
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = np.broadcast_to(camera_centers(R, t), d.shape)
    return np.concatenate([np.cross(o, d), d], -1).transpose(2, 0, 1)


def plucker_video(cameras, height: int, width: int, stride: int = 4, relative: bool = True) -> np.ndarray:
    """Plücker ray maps of a camera path, one per latent frame (frames 0, 4, 8, ...).

    cameras: CameraPath; height, width: the map size (e.g. the latent grid, 88 x 60 for 704 x 480).
    With ``relative`` the rays are expressed in the first camera's frame, as camera-conditioned
    video models use them. Returns (F', 6, H, W) float64.
    """
    from facecam_kit.geometry.camera import relative_pose

    idx = np.arange(0, len(cameras), stride)
    R, t = cameras.R[idx], cameras.t[idx]
    if relative:  # world := first camera
        R, t = relative_pose(np.broadcast_to(R[0], R.shape), np.broadcast_to(t[0], t.shape), R, t)
    # the path's intrinsics are for the official 704 x 480 canvas; rescale them to the map
    K = cameras.intrinsics()[idx] * np.array([[width / WIDTH], [height / HEIGHT], [1]])
    return np.stack([plucker_rays(K[i], R[i], t[i], height, width) for i in range(len(idx))])


def relative_plucker(source_R, source_t, R, t, K, height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """Plücker ray maps of target cameras in the *source* camera's frame, for a scene of metric ``scale``.

    source_R (3, 3), source_t (3,): the source camera; R (F, 3, 3), t (F, 3), K (F, 3, 3): target
    cameras with intrinsics at the map's resolution (``height`` x ``width``, e.g. the latent grid).
    ``scale`` multiplies the translations (a scene ``scale`` times larger, filmed so that every
    pixel is the same): the moments ``o x d`` grow with it, the directions do not. This is the
    condition FaceCam-mini's Plücker model gets (notebook 09). Returns (F, 6, height, width) float64.
    """
    from facecam_kit.geometry.camera import relative_pose

    R, t, K = np.asarray(R, np.float64), np.asarray(t, np.float64), np.asarray(K, np.float64)
    R_rel, t_rel = relative_pose(np.broadcast_to(source_R, R.shape), np.broadcast_to(source_t, t.shape), R, t)
    return np.stack([plucker_rays(K[i], R_rel[i], scale * t_rel[i], height, width) for i in range(len(R))])
