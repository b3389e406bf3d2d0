import numpy as np

from facecam_kit.camera import orbit_cameras
from facecam_kit.proxy_head import calibrate_landmarks, make_proxy_head


def test_calibration_triangulates_landmarks_near_the_mesh():
    head = make_proxy_head(density=0.6)
    rng = np.random.default_rng(0)
    cams = orbit_cameras(rng.uniform(-40, 40, 5), rng.uniform(-20, 20, 5), 40)
    calibrated = calibrate_landmarks(head, cams, backend="cpu", progress=False)
    assert calibrated.shape == (478, 3)
    # close to the mesh (a few hundredths of a unit on a 0.7-unit face), but not equal
    shift = np.linalg.norm(calibrated - head.landmarks, axis=1)
    assert 1e-3 < shift.mean() < 0.05
