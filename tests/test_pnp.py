import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facecam_kit.geometry.camera import intrinsics_from_fov, orbit_cameras, project_points
from facecam_kit.geometry.pnp import (
    dlt_pnp,
    essential_matrix,
    relative_pose_from_essential,
    rotation_error_deg,
    solve_pnp,
    translation_direction_error_deg,
    triangulate_views,
)

K = intrinsics_from_fov(40, 512, 512)


@settings(max_examples=30, deadline=None)
@given(az=st.floats(-60, 60), el=st.floats(-30, 30), fov=st.floats(25, 55))
def test_pnp_recovers_exact_pose_without_noise(template, az, el, fov):
    cams = orbit_cameras(az, el, fov)
    Kf = cams.intrinsics(512, 512)[0]
    uv = project_points(template, cams.R[0], cams.t[0], Kf)
    for solver in (solve_pnp, dlt_pnp):
        R, t = solver(template, uv, Kf)
        assert rotation_error_deg(R, cams.R[0]) < 1e-4
        np.testing.assert_allclose(t, cams.t[0], atol=1e-5)


def test_dlt_agrees_with_opencv_under_noise(template):
    rng = np.random.default_rng(0)
    cams = orbit_cameras(25, -10, 40)
    uv = project_points(template, cams.R[0], cams.t[0], K) + rng.normal(scale=1.0, size=(478, 2))
    R_cv, t_cv = solve_pnp(template, uv, K)
    R_dlt, t_dlt = dlt_pnp(template, uv, K)
    assert rotation_error_deg(R_dlt, R_cv) < 0.01
    assert rotation_error_deg(R_cv, cams.R[0]) < 1
    R_lin, _ = dlt_pnp(template, uv, K, refine=False)  # the linear solution is close but not equal
    assert rotation_error_deg(R_lin, cams.R[0]) < 5


def test_translation_is_known_only_up_to_the_scene_scale(template):
    cams = orbit_cameras(10, 5, 40)
    uv = project_points(template, cams.R[0], cams.t[0], K)
    for s in (0.1, 3.0):
        R, t = solve_pnp(s * template, uv, K)
        np.testing.assert_allclose(t, s * cams.t[0], rtol=1e-6, atol=1e-9)
        assert rotation_error_deg(R, cams.R[0]) < 1e-4


def test_essential_matrix_relative_pose(template):
    rng = np.random.default_rng(1)
    errs = []
    for _ in range(10):
        cams = orbit_cameras(rng.uniform(-45, 45, 2), rng.uniform(-30, 30, 2), [40, 40])
        exact = cams.project(template, 512, 512)
        uv = exact + rng.normal(scale=0.5, size=(2, 478, 2))
        Kf = cams.intrinsics(512, 512)[0]
        R_true = cams.R[1] @ cams.R[0].T
        t_true = cams.t[1] - R_true @ cams.t[0]
        R, t = relative_pose_from_essential(exact[0], exact[1], Kf, refine=False)  # noise-free: exact
        assert rotation_error_deg(R, R_true) < 1e-6 and translation_direction_error_deg(t, t_true) < 1e-6
        R, t = relative_pose_from_essential(uv[0], uv[1], Kf)
        errs.append(rotation_error_deg(R, R_true))
        assert np.linalg.norm(t) == pytest.approx(1)
    assert np.mean(errs) < 1
    x1, x2 = (np.c_[p, np.ones(478)] @ np.linalg.inv(Kf).T for p in exact)
    E = essential_matrix(exact[0], exact[1], Kf)  # the epipolar constraint holds exactly
    assert np.abs(np.einsum("ni,ij,nj->n", x2, E, x1)).max() < 1e-9
    np.testing.assert_allclose(np.linalg.svd(E)[1], [1, 1, 0], atol=1e-12)


def test_real_photo_pose(portrait_landmarks, template):
    h, w = 512, 348
    Kp = intrinsics_from_fov(30, w, h)
    R, t = solve_pnp(template, portrait_landmarks[:, :2], Kp)
    rmse = np.sqrt(np.mean(np.sum((project_points(template, R, t, Kp) - portrait_landmarks[:, :2]) ** 2, -1)))
    assert rmse < 2.0
    assert t[2] > 0


def test_bad_correspondences():
    with pytest.raises(ValueError, match="at least 6"):
        solve_pnp(np.zeros((4, 3)), np.zeros((4, 2)), K)
    with pytest.raises(ValueError, match="pair up"):
        dlt_pnp(np.zeros((10, 3)), np.zeros((9, 2)), K)
    with pytest.raises(ValueError, match="NaN"):
        solve_pnp(np.full((10, 3), np.nan), np.zeros((10, 2)), K)


def test_multiview_triangulation_is_exact_and_skips_unseen_views(template):
    cams = orbit_cameras([-40, 0, 25, 45], [10, -20, 0, 30], [30, 40, 50, 55])
    uv = cams.project(template)
    uv[1] = np.nan  # a view without a detection
    P = cams.projection_matrices()
    np.testing.assert_allclose(triangulate_views(uv, P), template, atol=1e-9)
    with pytest.raises(ValueError, match="at least 2 views"):
        triangulate_views(uv[:2], P[:2])
