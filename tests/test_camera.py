import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from facecam_kit.geometry.camera import (
    camera_centers,
    intrinsics_from_fov,
    look_at,
    orbit_angles,
    orbit_cameras,
    project_points,
    proxy_intrinsics,
    relative_pose,
    rotation_about_axis,
    rotation_angle_deg,
    skew,
)

angles = st.floats(-80, 80)


def test_intrinsics_put_half_fov_at_the_image_edge():
    K = intrinsics_from_fov(50.0, 480, 704)
    edge = project_points(np.array([[np.tan(np.deg2rad(25)), 0, 1.0]]), np.eye(3), np.zeros(3), K)
    np.testing.assert_allclose(edge, [[480, 352]])
    Kp = proxy_intrinsics(50.0, 704, 480)  # renders the top 480 x 480 square
    np.testing.assert_allclose(Kp[:2, 2], [240, 240])
    with pytest.raises(ValueError, match="hfov_deg"):
        intrinsics_from_fov(180, 480, 480)


@given(eye=st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(-5, 5)))
def test_look_at_centres_target_and_keeps_up_up(eye):
    eye = np.array(eye)
    assume(np.linalg.norm(eye[:2]) >= 0.1)  # not looking straight down/up, where up is undefined
    R, t = look_at(eye, np.zeros(3))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1)
    np.testing.assert_allclose(camera_centers(R, t), eye, atol=1e-12)
    K = intrinsics_from_fov(40, 100, 100)
    np.testing.assert_allclose(project_points(np.zeros((1, 3)), R, t, K), [[50, 50]], atol=1e-9)
    above = project_points(np.array([[0, 0, 0.1]]), R, t, K)
    assert above[0, 1] < 50  # world +Z is up in the image (OpenCV y points down)


def test_orbit_matches_official_geometry():
    cams = orbit_cameras([0, 30], [0, 20], [40, 40])
    np.testing.assert_allclose(cams.centers[0], [0, -2.7, 0], atol=1e-12)
    az, el = np.deg2rad(270 + 30), np.deg2rad(20)
    np.testing.assert_allclose(
        cams.centers[1], 2.7 * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    )
    # frontal camera: world +X is image right, the head (origin) at the square's centre
    uv = cams.project(np.array([[0, 0, 0], [0.1, 0, 0]]))[0]
    np.testing.assert_allclose(uv[0], [240, 240])
    assert uv[1, 0] > 240
    with pytest.raises(ValueError, match="elevation"):
        orbit_cameras(0, 90, 40)


@given(az=st.floats(-179, 179), el=st.floats(-89, 89), r=st.floats(0.1, 10))
def test_orbit_angles_invert_orbit_positions(az, el, r):
    got = orbit_angles(orbit_cameras(az, el, 40, radius=r).centers)
    np.testing.assert_allclose(np.ravel(got), [az, el], atol=1e-7)


@settings(max_examples=50)
@given(az=angles, el=st.floats(-60, 60), alpha=st.floats(0.01, 100))
def test_projection_is_invariant_to_scaling_scene_and_translation(az, el, alpha):
    cams = orbit_cameras(az, el, 40)
    pts = np.random.default_rng(0).normal(scale=0.3, size=(50, 3))
    K = cams.intrinsics()
    a = project_points(pts, cams.R, cams.t, K)
    b = project_points(alpha * pts, cams.R, alpha * cams.t, K)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_points_behind_camera_are_nan():
    uv = project_points(np.array([[0, 0, -1.0], [0, 0, 1.0]]), np.eye(3), np.zeros(3), np.eye(3))
    assert np.isnan(uv[0]).all() and np.isfinite(uv[1]).all()


def test_relative_pose_and_rotation_angle():
    R1 = rotation_about_axis([0, 1, 0], 10)
    R2 = rotation_about_axis([0, 1, 0], 35)
    R, t = relative_pose(R1, np.zeros(3), R2, np.array([0, 0, 1.0]))
    assert rotation_angle_deg(R) == pytest.approx(25)
    assert rotation_angle_deg(rotation_about_axis([1, 1, 0], 179.9)) == pytest.approx(179.9)


def test_shape_errors_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"points must have shape \(N, 3\)"):
        project_points(np.zeros((4, 2)), np.eye(3), np.zeros(3), np.eye(3))


vectors = st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3))


@given(w=vectors, u=vectors)
def test_rotation_vectors_match_opencv_rodrigues(w, u):
    w, u = np.array(w), np.array(u)
    np.testing.assert_allclose(skew(w) @ u, np.cross(w, u), atol=1e-12)
    R = rotation_about_axis(w)  # a rotation vector: angle |w| radians about w / |w|
    np.testing.assert_allclose(R, cv2.Rodrigues(w)[0], atol=1e-12)
    assume(np.linalg.norm(w) > 1e-6)
    np.testing.assert_allclose(rotation_about_axis(w, [0, np.rad2deg(np.linalg.norm(w))]), [np.eye(3), R], atol=1e-12)
