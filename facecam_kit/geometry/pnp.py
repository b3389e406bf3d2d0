"""Camera pose from landmarks: PnP (OpenCV and a from-scratch DLT) and two-view relative pose.

Conventions as in :mod:`facecam_kit.geometry.camera`: world-to-camera ``R, t`` (OpenCV axes), pixel
coordinates ``(x right, y down)``.

Taught in notebook 02 (PnP from landmarks); measures camera motion in notebook 04.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecam_kit.geometry.camera import _check, project_points, rotation_about_axis, rotation_angle_deg, skew


def _check_correspondences(points3d, points2d, K, min_points: int):
    points3d = _check("points3d", points3d, (3,), "(N, 3)")
    points2d = _check("points2d", points2d, (2,), "(N, 2)")
    K = _check("K", K, (3, 3), "(3, 3)")
    if points3d.ndim != 2 or points2d.ndim != 2 or len(points3d) != len(points2d):
        raise ValueError(f"points3d (N, 3) and points2d (N, 2) must pair up, got {points3d.shape} and {points2d.shape}")
    if len(points3d) < min_points:
        raise ValueError(f"need at least {min_points} correspondences, got {len(points3d)}")
    if not (np.isfinite(points3d).all() and np.isfinite(points2d).all()):
        raise ValueError("points contain NaN or inf (a landmark behind the camera?)")
    return np.ascontiguousarray(points3d), np.ascontiguousarray(points2d), K


def solve_pnp(points3d, points2d, K) -> tuple[np.ndarray, np.ndarray]:
    """Pose by OpenCV's ``solvePnP`` (EPnP start, Levenberg-Marquardt refinement).

    points3d: (N, 3) world; points2d: (N, 2) pixels; K: (3, 3). Returns R (3, 3), t (3,).
    """
    points3d, points2d, K = _check_correspondences(points3d, points2d, K, 6)
    ok, rvec, tvec = cv2.solvePnP(points3d, points2d, K, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        raise RuntimeError("cv2.solvePnP (EPnP) failed: are the 3D points degenerate (collinear)?")
    ok, rvec, tvec = cv2.solvePnP(
        points3d, points2d, K, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    return rotation_about_axis(rvec.ravel()), tvec.ravel()


def _normalise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hartley normalisation: centroid at 0, mean distance sqrt(d). Returns points, T ((d+1)^2)."""
    d = points.shape[1]
    c = points.mean(0)
    s = np.sqrt(d) / np.mean(np.linalg.norm(points - c, axis=1))
    T = np.eye(d + 1)
    T[:d, :d] *= s
    T[:d, d] = -s * c
    return (points - c) * s, T


def dlt_pnp(points3d, points2d, K, refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pose by the Direct Linear Transform, written out for teaching.

    1. Normalised image points ``x = K^-1 u`` satisfy ``x ~ [R | t] X``; each correspondence
       gives two linear equations in the 12 entries of ``P = [R | t]``; solve by SVD.
    2. ``P`` is known up to scale: project its left 3x3 block to the nearest rotation, fix the
       scale and sign (points in front of the camera).
    3. With ``refine``, Gauss-Newton on the reprojection error (what OpenCV minimises too).

    points3d: (N >= 6, 3); points2d: (N, 2) pixels; K: (3, 3). Returns R (3, 3), t (3,).
    """
    points3d, points2d, K = _check_correspondences(points3d, points2d, K, 6)
    x = (np.linalg.inv(K) @ np.c_[points2d, np.ones(len(points2d))].T).T[:, :2]
    Xn, T3 = _normalise(points3d)
    xn, T2 = _normalise(x)
    Xh = np.c_[Xn, np.ones(len(Xn))]
    zero = np.zeros_like(Xh)
    A = np.concatenate([np.c_[Xh, zero, -xn[:, :1] * Xh], np.c_[zero, Xh, -xn[:, 1:] * Xh]])
    P = np.linalg.svd(A)[2][-1].reshape(3, 4)
    P = np.linalg.inv(T2) @ P @ T3  # undo the normalisations
    U, S, Vt = np.linalg.svd(P[:, :3])
    scale = S.mean()
    R = U @ Vt
    t = P[:, 3] / scale
    if np.linalg.det(R) < 0:  # P's sign is arbitrary
        R, t = -R, -t
    if np.median((points3d @ R.T + t)[:, 2]) < 0:
        raise RuntimeError("DLT put the points behind the camera: check the correspondences")
    return refine_pose(points3d, points2d, K, R, t) if refine else (R, t)


def refine_pose(points3d, points2d, K, R, t, iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton on the reprojection error, updating ``R <- exp(w) R`` and ``t <- t + d``."""
    points3d, points2d, K = _check_correspondences(points3d, points2d, K, 3)
    fx, fy = K[0, 0], K[1, 1]
    for _ in range(iterations):
        RX = points3d @ R.T
        Xc = RX + t
        x, y, z = Xc.T
        r = (project_points(points3d, R, t, K) - points2d).ravel()
        # d(u, v)/d(camera point), then the chain rule through the pose perturbation
        J_proj = np.zeros((len(z), 2, 3))
        J_proj[:, 0, 0], J_proj[:, 0, 2] = fx / z, -fx * x / z**2
        J_proj[:, 1, 1], J_proj[:, 1, 2] = fy / z, -fy * y / z**2
        J = np.concatenate([J_proj @ -skew(RX), J_proj], axis=2).reshape(-1, 6)  # d(exp(w) RX)/dw = -[RX]x
        delta = np.linalg.lstsq(J, -r, rcond=None)[0]
        R, t = rotation_about_axis(delta[:3]) @ R, t + delta[3:]
        if np.linalg.norm(delta) < 1e-12:
            break
    return R, t


def essential_matrix(points1, points2, K) -> np.ndarray:
    """Essential matrix from N >= 8 pixel correspondences by the normalised 8-point algorithm.

    points1, points2: (N, 2) pixels in views 1 and 2 (same intrinsics K). Returns E (3, 3),
    with ``x2^T E x1 = 0`` for normalised points and singular values (1, 1, 0).
    """
    if np.shape(points1) != np.shape(points2):
        raise ValueError(f"points1 and points2 must both be (N, 2), got {np.shape(points1)} and {np.shape(points2)}")
    Kinv = np.linalg.inv(_check("K", K, (3, 3), "(3, 3)"))
    x1, x2 = (
        (Kinv @ np.c_[_check(n, p, (2,), "(N, 2)"), np.ones(len(p))].T).T[:, :2]
        for n, p in (("points1", points1), ("points2", points2))
    )
    if len(x1) < 8:
        raise ValueError(f"the 8-point algorithm needs at least 8 correspondences, got {len(x1)}")
    x1n, T1 = _normalise(x1)
    x2n, T2 = _normalise(x2)
    h1, h2 = np.c_[x1n, np.ones(len(x1n))], np.c_[x2n, np.ones(len(x2n))]
    A = (h2[:, :, None] * h1[:, None, :]).reshape(-1, 9)
    E = np.linalg.svd(A)[2][-1].reshape(3, 3)
    E = T2.T @ E @ T1
    U, _, Vt = np.linalg.svd(E)
    return U @ np.diag([1.0, 1.0, 0.0]) @ Vt


def triangulate(points1, points2, K, R, t) -> np.ndarray:
    """Linear triangulation with camera 1 = [I | 0], camera 2 = [R | t]. Returns (N, 3)."""
    P = K @ np.stack([np.c_[np.eye(3), np.zeros(3)], np.c_[R, t]])
    return triangulate_views(np.stack([points1, points2]), P)


def triangulate_views(points2d, projections) -> np.ndarray:
    """Linear (DLT) triangulation of N points seen in V views.

    points2d: (V, N, 2) pixels, NaN rows where a view did not see the point set; projections:
    (V, 3, 4) matrices ``K [R | t]``. Each point solves the stacked rows ``u P_3 - P_1`` and
    ``v P_3 - P_2`` of the views that saw it (at least 2). Returns (N, 3).
    """
    uv = np.asarray(points2d, dtype=np.float64)
    P = np.asarray(projections, dtype=np.float64)
    if uv.ndim != 3 or uv.shape[-1] != 2 or P.shape != (len(uv), 3, 4):
        raise ValueError(f"need points2d (V, N, 2) and projections (V, 3, 4), got {uv.shape} and {P.shape}")
    seen = np.isfinite(uv).all((1, 2))
    if seen.sum() < 2:
        raise ValueError(f"triangulation needs the points in at least 2 views, got {seen.sum()} of {len(uv)}")
    P, uv = P[seen], uv[seen]
    A = np.concatenate(
        [uv[..., 0, None] * P[:, None, 2] - P[:, None, 0], uv[..., 1, None] * P[:, None, 2] - P[:, None, 1]], 0
    )  # (2V, N, 4)
    X = np.linalg.svd(A.transpose(1, 0, 2))[2][:, -1]
    return X[:, :3] / X[:, 3:]


def relative_pose_from_essential(points1, points2, K, refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Relative pose of view 2 w.r.t. view 1 from pixel correspondences (N >= 8, 2).

    The 8-point essential matrix, decomposed into its four (R, t) candidates, keeping the one
    that puts the points in front of both cameras; with ``refine``, then minimises the Sampson
    error (:func:`refine_relative_pose`). Returns R (3, 3) and a *unit* t (3,) with
    ``X2 = R X1 + t``: two views fix the direction of the translation, never its length.
    """
    E = essential_matrix(points1, points2, K)
    U, _, Vt = np.linalg.svd(E)
    U *= np.sign(np.linalg.det(U))
    Vt *= np.sign(np.linalg.det(Vt))
    W = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    best, best_front = None, -1
    for R in (U @ W @ Vt, U @ W.T @ Vt):
        for t in (U[:, 2], -U[:, 2]):
            X1 = triangulate(points1, points2, K, R, t)
            front = np.sum((X1[:, 2] > 0) & ((X1 @ R.T + t)[:, 2] > 0))
            if front > best_front:
                best, best_front = (R, t), front
    return refine_relative_pose(points1, points2, K, *best) if refine else best


def refine_relative_pose(points1, points2, K, R, t) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on the Sampson error (first-order reprojection error) of ``E = [t]x R``.

    Five parameters: a rotation update and a step of the unit translation in its tangent plane.
    points1, points2: (N, 2) pixels; returns R (3, 3) and unit t (3,).
    """
    from scipy.optimize import least_squares

    Kinv = np.linalg.inv(K)
    x1 = np.c_[points1, np.ones(len(points1))] @ Kinv.T
    x2 = np.c_[points2, np.ones(len(points2))] @ Kinv.T
    tangent = np.linalg.svd(t[None])[2][1:].T  # (3, 2), orthogonal to t

    def pose(p):
        t_new = t + tangent @ p[3:]
        return rotation_about_axis(p[:3]) @ R, t_new / np.linalg.norm(t_new)

    def sampson(p):
        R_p, t_p = pose(p)
        E = skew(t_p) @ R_p
        Ex1, Etx2 = x1 @ E.T, x2 @ E
        return (
            K[0, 0] * np.sum(x2 * Ex1, 1) / np.sqrt(Ex1[:, 0] ** 2 + Ex1[:, 1] ** 2 + Etx2[:, 0] ** 2 + Etx2[:, 1] ** 2)
        )

    return pose(least_squares(sampson, np.zeros(5), method="lm").x)


def rotation_error_deg(R_est, R_true) -> float:
    """Angle of ``R_est R_true^T`` in degrees."""
    return float(rotation_angle_deg(np.asarray(R_est) @ np.asarray(R_true).T))


def translation_direction_error_deg(t_est, t_true) -> float:
    """Angle between two translation directions in degrees (their lengths are ignored)."""
    a = np.asarray(t_est, float) / np.linalg.norm(t_est)
    b = np.asarray(t_true, float) / np.linalg.norm(t_true)
    return float(np.rad2deg(np.arctan2(np.linalg.norm(np.cross(a, b)), a @ b)))
