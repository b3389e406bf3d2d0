"""Pinhole cameras in one convention.

The kit's single camera convention (OpenCV): camera x points right, y down, z forward (into
the scene). A camera is given by its *world-to-camera* rotation ``R`` and translation ``t``, so
a world point ``X`` has camera coordinates ``R @ X + t``, and the camera centre is ``-R.T @ t``.
Everything else (Unreal's axes in ReCamMaster, camera-to-world matrices) is converted at the edges.

The proxy-head world follows the official FaceCam renderer: +Z is up, the head sits at the
origin facing -Y, and the frontal camera is at ``(0, -2.7, 0)``.

Taught in notebook 01 (scale ambiguity); every notebook uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facecam_kit.spec import HEIGHT, PROXY_BASE_AZIMUTH_DEG, PROXY_RADIUS, WIDTH

WORLD_UP = np.array([0.0, 0.0, 1.0])


def _check(name: str, a: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """Check trailing dimensions of ``a`` (``None`` in ``shape`` matches any size)."""
    a = np.asarray(a, dtype=np.float64)
    tail = a.shape[a.ndim - len(shape) :] if a.ndim >= len(shape) else None
    if tail is None or any(s is not None and s != d for s, d in zip(shape, tail)):
        raise ValueError(f"{name} must have shape {what}, got {a.shape}")
    return a


def intrinsics_from_fov(hfov_deg, width: int, height: int, square_size: int | None = None) -> np.ndarray:
    """Pinhole intrinsics from a horizontal field of view.

    ``fx = fy = S / (2 tan(hfov / 2))`` with ``S = width`` and the principal point at the image
    centre. With ``square_size`` the camera renders an ``S x S`` square at the top-left of the
    canvas (the official proxy renders at ``min(H, W)`` and pads bottom/right with white), so
    ``cx = cy = S / 2``.

    hfov_deg: scalar or (F,) degrees. Returns (3, 3) or (F, 3, 3) float64.
    """
    hfov = np.asarray(hfov_deg, dtype=np.float64)
    if np.any(hfov <= 0) or np.any(hfov >= 180):
        raise ValueError(f"hfov_deg must lie in (0, 180) degrees, got {hfov_deg}")
    size = float(square_size) if square_size is not None else float(width)
    f = size / (2.0 * np.tan(np.deg2rad(hfov) / 2.0))
    cx, cy = (size / 2, size / 2) if square_size is not None else (width / 2, height / 2)
    K = np.zeros(hfov.shape + (3, 3))
    K[..., 0, 0] = f
    K[..., 1, 1] = f
    K[..., 0, 2] = cx
    K[..., 1, 2] = cy
    K[..., 2, 2] = 1.0
    return K


def proxy_intrinsics(hfov_deg, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Intrinsics of the official proxy renderer on an ``height x width`` canvas.

    The head is rendered at ``min(H, W)`` and padded with white at the bottom/right
    (official inference.py), so the principal point is the centre of the top-left square.
    """
    return intrinsics_from_fov(hfov_deg, width, height, square_size=min(height, width))


def look_at(eye, target, up=WORLD_UP) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``R, t`` of a camera at ``eye`` looking at ``target``.

    The camera's y axis points along ``-up`` projected on the image plane (OpenCV: y down).
    eye, target: (3,) or (F, 3). Returns R (…, 3, 3), t (…, 3).
    """
    eye = _check("eye", eye, (3,), "(3,) or (F, 3)")
    target = _check("target", target, (3,), "(3,) or (F, 3)")
    up = np.broadcast_to(np.asarray(up, dtype=np.float64), np.broadcast_shapes(eye.shape, target.shape))
    forward = target - eye
    forward = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, up)
    norm = np.linalg.norm(right, axis=-1, keepdims=True)
    if np.any(norm < 1e-9):
        raise ValueError("look_at: viewing direction is parallel to `up`; choose another up vector")
    right = right / norm
    true_up = np.cross(right, forward)
    c2w = np.stack([right, -true_up, forward], axis=-1)  # columns: camera x, y, z in world
    R = np.swapaxes(c2w, -1, -2)
    t = -np.einsum("...ij,...j->...i", R, eye)
    return R, t


def orbit_positions(
    azimuth_deg, elevation_deg, radius: float = PROXY_RADIUS, base_azimuth_deg: float = PROXY_BASE_AZIMUTH_DEG
) -> np.ndarray:
    """Positions on a sphere around the origin, as the official proxy camera places them.

    ``pos = r (cos el cos az, cos el sin az, sin el)`` with ``az = base + azimuth``; azimuth 0,
    elevation 0 is the frontal camera ``(0, -r, 0)``. Positive azimuth moves the camera
    towards +X (the viewer's right of the head, the head's left). Returns (…, 3).
    """
    az = np.deg2rad(base_azimuth_deg + np.asarray(azimuth_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    az, el = np.broadcast_arrays(az, el)
    return radius * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1)


def orbit_angles(positions, base_azimuth_deg: float = PROXY_BASE_AZIMUTH_DEG) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`orbit_positions`: azimuth and elevation in degrees (…,) of
    positions (…, 3) seen from the origin; azimuth in [-180, 180)."""
    p = _check("positions", positions, (3,), "(…, 3)")
    az = np.rad2deg(np.arctan2(p[..., 1], p[..., 0])) - base_azimuth_deg
    el = np.rad2deg(np.arctan2(p[..., 2], np.hypot(p[..., 0], p[..., 1])))
    return (az + 180) % 360 - 180, el


@dataclass(frozen=True)
class CameraPath:
    """A sequence of cameras: world-to-camera ``R`` (F, 3, 3), ``t`` (F, 3), ``hfov_deg`` (F,)."""

    R: np.ndarray
    t: np.ndarray
    hfov_deg: np.ndarray

    def __post_init__(self):
        R = _check("R", self.R, (3, 3), "(F, 3, 3)")
        t = _check("t", self.t, (3,), "(F, 3)")
        fov = np.asarray(self.hfov_deg, dtype=np.float64)
        if R.ndim != 3 or t.ndim != 2 or fov.shape != (R.shape[0],) or t.shape[0] != R.shape[0]:
            raise ValueError(
                f"CameraPath needs R (F, 3, 3), t (F, 3), hfov_deg (F,); got {R.shape}, {t.shape}, {fov.shape}"
            )
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "hfov_deg", fov)

    @classmethod
    def from_centres(cls, R, centres, hfov_deg) -> CameraPath:
        """Cameras from rotations R (F, 3, 3), centres (F, 3) in the world and a lens (scalar or (F,))."""
        R = np.asarray(R, dtype=np.float64)
        hfov = np.broadcast_to(np.asarray(hfov_deg, dtype=np.float64), (len(R),))
        return cls(R, -np.einsum("fij,fj->fi", R, np.asarray(centres, dtype=np.float64)), hfov)

    def __len__(self) -> int:
        return self.R.shape[0]

    @property
    def centers(self) -> np.ndarray:
        """Camera centres in world coordinates, (F, 3)."""
        return camera_centers(self.R, self.t)

    def intrinsics(self, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
        """Per-frame intrinsics (F, 3, 3) on the official padded canvas."""
        return proxy_intrinsics(self.hfov_deg, height, width)

    def projection_matrices(self, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
        """``K [R | t]`` of every frame, (F, 3, 4)."""
        return self.intrinsics(height, width) @ np.concatenate([self.R, self.t[:, :, None]], 2)

    def project(self, points, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
        """Project world points (N, 3) into every frame: returns (F, N, 2) pixels."""
        return project_points(points, self.R, self.t, self.intrinsics(height, width))


def orbit_cameras(azimuth_deg, elevation_deg, hfov_deg, radius: float = PROXY_RADIUS) -> CameraPath:
    """Cameras on the official proxy orbit, all looking at the origin with +Z up.

    azimuth_deg, elevation_deg, hfov_deg: (F,) (or scalars, broadcast). Returns a CameraPath.
    """
    az, el, fov = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (azimuth_deg, elevation_deg, hfov_deg))
    )
    if np.any(np.abs(el) >= 90):
        raise ValueError(f"elevation must lie strictly between -90 and 90 degrees, got {el.min()}..{el.max()}")
    eye = orbit_positions(az, el, radius)
    R, t = look_at(eye, np.zeros_like(eye))
    return CameraPath(R, t, fov)


def camera_centers(R, t) -> np.ndarray:
    """Camera centres ``-R^T t``. R: (…, 3, 3), t: (…, 3). Returns (…, 3)."""
    R = _check("R", R, (3, 3), "(…, 3, 3)")
    t = _check("t", t, (3,), "(…, 3)")
    return -np.einsum("...ji,...j->...i", R, t)


def world_to_camera(points, R, t) -> np.ndarray:
    """Camera coordinates of world points.

    points: (N, 3); R: (3, 3) or (F, 3, 3); t: (3,) or (F, 3). Returns (N, 3) or (F, N, 3).
    """
    points = _check("points", points, (3,), "(N, 3)")
    R = _check("R", R, (3, 3), "(3, 3) or (F, 3, 3)")
    t = _check("t", t, (3,), "(3,) or (F, 3)")
    return points @ np.swapaxes(R, -1, -2) + t[..., None, :]


def project_points(points, R, t, K, eps: float = 1e-12) -> np.ndarray:
    """Perspective projection of world points to pixels.

    points: (N, 3); R: (3, 3) or (F, 3, 3); t: (3,) or (F, 3); K: (3, 3) or (F, 3, 3).
    Returns (N, 2) or (F, N, 2) float64 pixel coordinates (x right, y down). Points behind the
    camera get NaN.
    """
    K = _check("K", K, (3, 3), "(3, 3) or (F, 3, 3)")
    cam = world_to_camera(points, R, t)
    z = cam[..., 2:3]
    uvw = cam @ np.swapaxes(K, -1, -2)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = uvw[..., :2] / uvw[..., 2:3]
    return np.where(z > eps, uv, np.nan)


def relative_pose(R1, t1, R2, t2) -> tuple[np.ndarray, np.ndarray]:
    """Pose of camera 2 relative to camera 1: maps camera-1 coordinates to camera-2 coordinates.

    ``X2 = R_rel X1 + t_rel`` with ``R_rel = R2 R1^T`` and ``t_rel = t2 - R_rel t1``.
    """
    R1, R2 = (_check(n, a, (3, 3), "(…, 3, 3)") for n, a in (("R1", R1), ("R2", R2)))
    t1, t2 = (_check(n, a, (3,), "(…, 3)") for n, a in (("t1", t1), ("t2", t2)))
    R_rel = R2 @ np.swapaxes(R1, -1, -2)
    return R_rel, t2 - np.einsum("...ij,...j->...i", R_rel, t1)


def skew(v) -> np.ndarray:
    """The cross-product matrix ``[v]x``, with ``[v]x @ u == np.cross(v, u)``. v: (…, 3). Returns (…, 3, 3)."""
    v = _check("v", v, (3,), "(…, 3)")
    x, y, z = np.moveaxis(v, -1, 0)
    o = np.zeros_like(x)
    return np.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(v.shape[:-1] + (3, 3))


def rotation_about_axis(axis, angle_deg=None) -> np.ndarray:
    """Rodrigues' rotation matrix: ``angle_deg`` degrees about ``axis`` (normalised here).

    axis: (…, 3); angle_deg: scalar or (F,), broadcast against the axis. With ``angle_deg=None``
    the axis is a rotation vector whose length is the angle in radians (OpenCV's ``rvec``, the
    exponential map of SO(3)). A zero axis gives the identity. Returns (…, 3, 3).
    """
    axis = _check("axis", axis, (3,), "(…, 3)")
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = norm[..., 0] if angle_deg is None else np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    k = skew(axis / np.where(norm > 0, norm, 1.0))
    a = np.asarray(angle)[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def rotation_angle_deg(R) -> np.ndarray:
    """Rotation angle of R (…, 3, 3) in degrees, numerically safe near 0 and 180."""
    R = _check("R", R, (3, 3), "(…, 3, 3)")
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1) / 2
    skew = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    sin = np.linalg.norm(skew, axis=-1) / 2
    return np.rad2deg(np.arctan2(sin, cos))
