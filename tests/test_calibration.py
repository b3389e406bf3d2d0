import numpy as np
import pytest

from facecam_kit.geometry.camera import orbit_cameras
from facecam_kit.proxy.calibration import calibrate_landmarks
from facecam_kit.proxy.head import make_proxy_head, render_and_detect


@pytest.fixture(scope="module")
def head():
    return make_proxy_head(density=0.6)


def test_calibration_reproduces_the_detector_on_and_between_grid_views(head):
    cal = calibrate_landmarks(head, azimuth=[-30, 0, 30], elevation=[-15, 15], hfov=[40], backend="cpu", progress=False)
    assert cal.points.shape == (478, 3) and cal.offsets.shape == (3, 2, 1, 478, 2)
    # triangulated points sit near the mesh (hundredths of a unit on a 0.7-unit face) but not on it
    assert 1e-3 < np.linalg.norm(cal.points - head.landmarks, axis=1).mean() < 0.05
    # on a grid view the table gives back what MediaPipe found there
    grid_views = orbit_cameras([-30, -30, 0, 0, 30, 30], [-15, 15] * 3, 40)  # azimuth-major, as the grid
    _, detected = render_and_detect(head, grid_views, backend="cpu", progress=False)
    np.testing.assert_allclose(cal.project(grid_views), detected[..., :2], atol=1e-6)
    # between grid views (and at another fov) it beats projecting the mesh landmarks
    between = orbit_cameras([-15, 15], [0, 0], [45, 35])
    _, detected = render_and_detect(head, between, backend="cpu", progress=False)
    err = lambda uv: np.linalg.norm(uv - detected[..., :2], axis=-1).mean()
    assert err(cal.project(between)) < err(between.project(head.landmarks))


def test_calibration_errors_name_the_fix(head):
    with pytest.raises(ValueError, match="increasing"):
        calibrate_landmarks(head, azimuth=[30, 0], progress=False)
    with pytest.raises(ValueError, match="narrow the grid"):  # the back of the head: no face
        calibrate_landmarks(head, azimuth=[170, 180], elevation=[0], hfov=[40], backend="cpu", progress=False)
