import numpy as np
import pytest

from facecam_kit.baselines.plucker import plucker_video
from facecam_kit.baselines.recapture import anchor_video, head_depth, rasterise_depth
from facecam_kit.geometry.camera import CameraPath, intrinsics_from_fov, orbit_cameras, rotation_angle_deg
from facecam_kit.geometry.trajectory import OrbitTrajectory, PresetTrajectory, recammaster_embedding


def test_recammaster_embedding_matches_the_official_layout():
    emb = recammaster_embedding(PresetTrajectory("arc_left").cameras())
    assert emb.shape == (21, 12)
    np.testing.assert_allclose(emb[0].reshape(3, 4), np.c_[np.eye(3), np.zeros(3)], atol=1e-12)
    last = emb[-1].reshape(3, 4)
    assert rotation_angle_deg(last[:, :3]) == pytest.approx(29.82, abs=1e-6)
    # translation in the first camera's frame: left (-x) and forward (+z), scaled to proxy units
    np.testing.assert_allclose(last[:, 3], np.array([-1.988, 0, 0.533]) * 2.7 / 4, atol=1e-9)


def test_extrinsics_and_plucker_cannot_see_scene_scale():
    cams = OrbitTrajectory((-30, 30), (0, 10), (40, 40), 9).cameras()
    scaled = CameraPath(cams.R, 3 * cams.t, cams.hfov_deg)  # the same motion in a 3x larger scene
    a, b = recammaster_embedding(cams), recammaster_embedding(scaled)
    np.testing.assert_allclose(a[:, [0, 1, 2, 4, 5, 6, 8, 9, 10]], b[:, [0, 1, 2, 4, 5, 6, 8, 9, 10]], atol=1e-12)
    np.testing.assert_allclose(b[:, [3, 7, 11]], 3 * a[:, [3, 7, 11]], atol=1e-12)  # only |t| changes
    p = plucker_video(cams, 88, 60)
    assert p.shape == (3, 6, 88, 60)
    np.testing.assert_allclose(np.linalg.norm(p[:, 3:], axis=1), 1)  # unit directions
    np.testing.assert_allclose(p[0, :3], 0, atol=1e-12)  # first camera at the origin: o x d = 0


def test_mesh_depth_and_anchor_reprojection(template):
    cams = orbit_cameras(0, 0, 40)
    K = intrinsics_from_fov(40, 96, 96)
    R, t = cams.R[0], cams.t[0]
    depth = rasterise_depth(template @ R.T + t, K, 96, 96)
    face = np.isfinite(depth)
    assert 0.05 < face.mean() < 0.6 and depth[face].min() > 2.7 - 0.5 and depth[face].max() < 2.7 + 0.2
    full = head_depth(R, t, K, 96, 96, template)
    assert np.isfinite(full).all() and full.max() == pytest.approx(2.7 + 1.0)
    # warping into the source camera itself reproduces the image exactly
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    same = CameraPath(R[None], t[None], np.array([40.0]))
    frames, masks = anchor_video(image, full, K, R, t, same, 96, 96, supersample=1)
    # the target canvas puts the principal point at the square's centre, as K does here
    assert masks.mean() > 0.99
    np.testing.assert_array_equal(frames[0][masks[0]], image[masks[0]])
    # a turned camera uncovers what the head hid: holes stay masked and black
    turned = OrbitTrajectory((0, 35), (0, 0), (40, 40), 5).cameras()
    frames, masks = anchor_video(image, full, K, R, t, turned, 96, 96)
    assert masks[-1].mean() < masks[0].mean() and (frames[-1][~masks[-1]] == 0).all()
    with pytest.raises(ValueError, match="same size"):
        anchor_video(image[:50], full, K, R, t, same, 96, 96)
