import numpy as np
import pytest

from facecam_kit.data.studio import load_capture, make_studio
from facecam_kit.face import topology
from facecam_kit.geometry.trajectory import OrbitTrajectory
from facecam_kit.proxy.head import (
    make_proxy_head,
    personalise,
    personalised_landmarks,
    proxy_condition_video,
    similarity_align,
    textured_proxy_head,
)
from facecam_kit.proxy.rasterise import render_video


@pytest.fixture(scope="module")
def generic():
    return make_proxy_head()


def test_generic_head_reads_as_a_face(generic, template):
    np.testing.assert_array_equal(generic.landmarks, template)
    traj = OrbitTrajectory((-40, 40), (-20, 20), (30, 50), num_frames=5)
    cond, renders, detected = proxy_condition_video(generic, traj, backend="cpu", progress=False)
    assert renders.shape == (5, 704, 480, 3) and cond.shape == (5, 704, 480, 3)
    analytic = traj.cameras().project(template)
    err = np.linalg.norm(detected[..., :2] - analytic, axis=-1).mean(1)  # per frame, px
    assert err.max() < 12 and np.median(err) < 6  # MediaPipe finds the face where the landmarks are


def test_textured_head_takes_the_photos_colours(portrait, portrait_landmarks):
    head = textured_proxy_head(portrait, portrait_landmarks)
    img = render_video(head.gaussians, OrbitTrajectory(num_frames=1).cameras(), 480, 480, progress=False)[0]
    face = img[200:280, 200:280].reshape(-1, 3).mean(0)
    photo_face = portrait[100:160, 150:200].reshape(-1, 3).mean(0)
    assert np.abs(face - photo_face).max() < 40
    again = render_video(head.gaussians, OrbitTrajectory(num_frames=1).cameras(), 480, 480, progress=False)[0]
    assert np.abs(img.astype(int) - again).max() <= 1  # deterministic, up to a rounding flip
    with pytest.raises(ValueError, match="texture_landmarks"):
        make_proxy_head(texture=portrait)


def test_personalisation_recovers_shape(generic, portrait, portrait_landmarks):
    shape = generic.landmarks * [1.15, 1.1, 0.88]
    person = textured_proxy_head(portrait, portrait_landmarks, shape)
    video = render_video(
        person.gaussians, OrbitTrajectory((-20, 20), (-10, 10), (30, 30), 5).cameras(), 480, 480, progress=False
    )
    from facecam_kit.face.landmarks import detect_landmarks_video

    fitted = personalised_landmarks(detect_landmarks_video(video, progress=False))
    truth = similarity_align(shape, generic.landmarks)
    assert np.abs(fitted - truth).mean() < 0.6 * np.abs(generic.landmarks - truth).mean()
    moved = personalise(generic, fitted)
    np.testing.assert_allclose(moved.landmarks, fitted)
    # face Gaussians follow their triangles
    m = len(generic.face_triangle)
    tri = topology.TRIANGLES[generic.face_triangle[:5]]
    np.testing.assert_allclose(moved.gaussians.means[:5], np.einsum("nk,nkd->nd", generic.face_bary[:5], fitted[tri]))
    assert len(moved.gaussians) == len(generic.gaussians) and m < len(generic.gaussians)


def test_studio_capture_layout_and_ground_truth(tmp_path):
    paths = make_studio(tmp_path, num_heads=2, num_cameras=3, num_frames=5, size=96, seed=3, progress=False)
    assert [p.name for p in paths] == ["head_000", "head_001"]
    cap = load_capture(paths[0])
    assert cap.videos.shape == (3, 5, 96, 96, 3) and cap.landmarks2d.shape == (3, 5, 478, 2)
    # the projected landmarks sit on the rendered face: skin, not the white background
    c, f = 1, 2
    uv = cap.landmarks2d[c, f, topology.NOSE_TIP].astype(int)
    assert cap.videos[c, f, uv[1], uv[0]].mean() < 240
    # ground truth is consistent: landmarks2d = K (R X + t)
    from facecam_kit.geometry.camera import project_points

    np.testing.assert_allclose(project_points(cap.landmarks3d[f], cap.R[c], cap.t[c], cap.K[c]), cap.landmarks2d[c, f])
    # heads differ in shape and colour; the same seed gives the same studio
    other = load_capture(paths[1])
    assert np.abs(cap.landmarks3d[0] - other.landmarks3d[0]).mean() > 1e-3
    again = make_studio(tmp_path / "again", num_heads=1, num_cameras=3, num_frames=5, size=96, seed=3, progress=False)
    np.testing.assert_array_equal(load_capture(again[0]).landmarks3d, cap.landmarks3d)
    (paths[1] / "cam_02.mp4").unlink()
    with pytest.raises(ValueError, match="missing"):
        load_capture(paths[1])
    with pytest.raises(ValueError, match="capture.json"):
        load_capture(tmp_path)


def test_a_varied_rig_frees_translation_from_rotation(template):
    """On the arc every pair of cameras is a chord of one circle: the translation between them is a
    function of the angle between them, so a model never needs it. The varied rig breaks that, and
    still frames the whole face in every camera."""
    from facecam_kit.data.studio import VARIED_RIG, rig_cameras, studio_cameras
    from facecam_kit.geometry.camera import camera_centers, project_points
    from facecam_kit.spec import MIN_FACE_HEIGHT

    def chord_ratios(R, t):  # distance between centres over the chord their viewing angle spans
        c = camera_centers(R, t)
        i, j = np.triu_indices(len(R), 1)
        angle = np.arccos(np.clip((R[i, 2] * R[j, 2]).sum(1), -1, 1))
        return np.linalg.norm(c[i] - c[j], axis=1) / (2 * np.linalg.norm(c[i], axis=1) * np.sin(angle / 2))

    R, t, *_ = studio_cameras(8, 96)
    np.testing.assert_allclose(chord_ratios(R, t), 1.0, rtol=1e-6)
    rng = np.random.default_rng(0)
    ratios, dists = [], []
    for _ in range(20):
        R, t, K, angles, dist, aims = rig_cameras(rng, 8, 96, **VARIED_RIG)
        ratios += list(chord_ratios(R, t))
        dists += list(dist)
        lm = np.stack([project_points(template, R[c], t[c], K[c]) for c in range(8)])
        assert ((lm >= 0) & (lm < 96)).all(), "a varied camera cuts the face"
        assert (np.ptp(lm[..., 1], axis=1) / 96 >= MIN_FACE_HEIGHT).all()
        assert np.abs(aims).max() > 0.03
    assert max(dists) / min(dists) > 1.6  # distances over 0.8 ... 1.4 times the arc's radius
    assert np.std(ratios) > 0.1  # the same angle comes with many translations
    with pytest.raises(ValueError, match="distance_range"):
        rig_cameras(rng, 8, 96, distance_range=(2.0, 1.0))
