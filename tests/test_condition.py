import cv2
import numpy as np
import pytest

from facecam_kit.face import topology
from facecam_kit.face.condition import (
    condition_video,
    draw_condition,
    draw_condition_mediapipe,
    draw_lines_1px,
    landmarks_to_pixels,
    orbit_condition_preview,
)
from facecam_kit.geometry.trajectory import OrbitTrajectory


@pytest.mark.parametrize("scale, shift", [(1.0, (0, 0)), (1.9, (0, 0)), (3.0, (-250, 40)), (2.0, (300, -200))])
def test_matches_official_drawing_pixel_for_pixel(portrait_landmarks, scale, shift):
    h, w = 704, 480
    lm = portrait_landmarks[:, :2] * scale + shift  # last two cases: partly outside the canvas
    np.testing.assert_array_equal(draw_condition(lm, h, w), draw_condition_mediapipe(lm, h, w))


def test_matches_official_on_projected_template(template):
    lm = OrbitTrajectory((-45, 45), (-25, 25), (25, 55), 5).cameras().project(template)
    ours = draw_condition(lm)
    for f in range(len(lm)):
        np.testing.assert_array_equal(ours[f], draw_condition_mediapipe(lm[f], 704, 480))


def test_line_kernel_matches_cv2_line():
    rng = np.random.default_rng(0)
    h, w = 50, 70
    px = rng.integers(0, [w, h], size=(1, 4000, 2))
    edges = np.arange(4000).reshape(-1, 2)
    ours = np.zeros((1, h, w, 3), np.uint8)
    valid = np.ones((1, 4000), bool)
    for i, (a, b) in enumerate(edges):
        ours[:] = 0
        draw_lines_1px(ours, px, valid, edges[i : i + 1], np.array([9, 8, 7], np.uint8))
        ref = np.zeros((h, w, 3), np.uint8)
        cv2.line(ref, tuple(map(int, px[0, a])), tuple(map(int, px[0, b])), (9, 8, 7), 1)
        np.testing.assert_array_equal(ours[0], ref)


def test_colour_quirk_right_eye_is_blue(template):
    img = draw_condition(OrbitTrajectory(num_frames=1).cameras().project(template)[0])
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert (48, 48, 255) in colours and (48, 255, 48) in colours and (255, 48, 48) not in colours
    right_eye = topology.CONTOURS[(topology.CONTOUR_COLORS == (48, 48, 255)).all(1)].ravel()
    x = OrbitTrajectory(num_frames=1).cameras().project(template)[0, right_eye, 0]
    assert x.mean() < 240  # the person's right eye is on the image's left


def test_pixel_mapping_follows_mediapipe():
    px, valid = landmarks_to_pixels(np.array([[0.0, 0], [480, 704], [480.1, 5], [-0.01, 5], [np.nan, 1]]), 704, 480)
    assert valid.tolist() == [True, True, False, False, False]
    np.testing.assert_array_equal(px[:2], [[0, 0], [479, 703]])


def test_video_and_background_shapes(portrait, portrait_landmarks):
    h, w = portrait.shape[:2]
    over = draw_condition(portrait_landmarks, h, w, background=portrait)
    assert over.shape == portrait.shape and (over != portrait).any()
    assert (portrait == load_again()).all()  # the input is not modified
    with pytest.raises(ValueError, match=r"\(478, 2\|3\)"):
        draw_condition(np.zeros((68, 2)))
    with pytest.raises(ValueError, match="background"):
        draw_condition(portrait_landmarks, 704, 480, background=portrait)


def load_again():
    from facecam_kit.assets import load_sample_portrait

    return load_sample_portrait()


def test_preview_callback(template):
    frames = orbit_condition_preview(-40, 40, -20, 20, 25, 55)
    assert frames.shape == (81, 704, 480, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, condition_video(OrbitTrajectory((-40, 40), (-20, 20), (25, 55))))
    # the face turns: the nose tip moves across the image
    nose = OrbitTrajectory((-40, 40), (-20, 20), (25, 55)).cameras().project(template)[:, topology.NOSE_TIP]
    assert nose[0, 0] > 240 > nose[-1, 0]
    with pytest.raises(ValueError, match="azimuth"):
        orbit_condition_preview(azimuth_end=100)


def _area_round_trip_psnr(frames: np.ndarray, factor: int = 4) -> float:
    """PSNR (dB) of frames against their area average over factor x factor blocks, cubic-upsampled."""
    from facecam_kit.evaluation.fidelity import psnr

    h, w = frames.shape[1:3]
    small = [cv2.resize(f, (w // factor, h // factor), interpolation=cv2.INTER_AREA) for f in frames]
    return psnr(frames, np.stack([cv2.resize(s, (w, h), interpolation=cv2.INTER_CUBIC) for s in small]))


def test_supersampled_drawing_is_the_large_drawing_seen_small_and_smoother(template):
    """At 96 px the 1-px mesh of a small face is aliased noise; drawn at 4x and area-averaged it is
    the official drawing as a larger frame shows it, and keeps far more through a 4x4 bottleneck
    (what a space / 4 VAE must pass): 26.5 against 21 dB on the mini test scenes."""
    size = 96
    lm = OrbitTrajectory((-30, 30), (-10, 10), (30, 30), 5).cameras().project(template, size, size)
    plain = draw_condition(lm, size, size)
    smooth = draw_condition(lm, size, size, supersample=4)
    np.testing.assert_array_equal(draw_condition(lm, size, size, supersample=1), plain)
    big = draw_condition(lm * 4, 4 * size, 4 * size)
    np.testing.assert_array_equal(smooth[2], cv2.resize(big[2], (size, size), interpolation=cv2.INTER_AREA))
    assert smooth.shape == plain.shape and smooth.dtype == np.uint8
    assert _area_round_trip_psnr(smooth) > _area_round_trip_psnr(plain) + 3.0
    over = draw_condition(lm[0], size, size, background=np.zeros((size, size, 3), np.uint8), supersample=2)
    assert over.shape == (size, size, 3) and over[0, 0].tolist() == [0, 0, 0]
    for bad in (0, 9, 2.0, True):
        with pytest.raises(ValueError, match="supersample"):
            draw_condition(lm, size, size, supersample=bad)
    with pytest.raises(ValueError, match=r"background must be \(96, 96, 3\)"):
        draw_condition(lm, size, size, background=np.zeros((8, 8, 3), np.uint8), supersample=2)
