import numpy as np
import pytest
import torch

from facecam_kit.data import augment
from facecam_kit.data.dataset import MonocularDataset, StudioDataset
from facecam_kit.data.studio import make_studio
from facecam_kit.face.landmarks import detect_landmarks
from facecam_kit.geometry.camera import intrinsics_from_fov, project_points
from facecam_kit.video import write_video


def test_warp_moves_landmarks_with_pixels(portrait, portrait_landmarks):
    clip, lm = portrait[None], portrait_landmarks[None, :, :2]
    for frames, lms in (augment.scale_augment(clip, lm, 1.2), augment.synthetic_pan(clip, lm, (0, 0), (-40, 25))):
        det = detect_landmarks(frames[0])[:, :2]
        assert np.linalg.norm(det - lms[0], axis=1).mean() < 2.5  # MediaPipe agrees with the transformed landmarks
    # a single bright pixel lands where its coordinate is mapped
    img = np.zeros((1, 40, 60, 3), np.uint8)
    img[0, 20, 30] = 255
    A = augment.similarity_matrices([1.5], [[3.0, -4.0]], 40, 60)
    out, p = augment.warp(img, np.array([[[30.5, 20.5]]]), A, fill=(0, 0, 0))
    y, x = np.unravel_index(out[0, ..., 0].argmax(), (40, 60))
    assert abs(x + 0.5 - p[0, 0, 0]) <= 1 and abs(y + 0.5 - p[0, 0, 1]) <= 1


def test_augmented_intrinsics_project_the_augmented_landmarks(template):
    K = intrinsics_from_fov(40, 480, 704)
    R, t = np.eye(3), np.array([0, 0, 2.7])
    uv = project_points(template, R, t, K)
    A = augment.similarity_matrices(np.linspace(1, 1.25, 3), np.linspace([0, 0], [30, -20], 3), 704, 480)
    _, lms = augment.warp(np.zeros((3, 704, 480, 3), np.uint8), np.repeat(uv[None], 3, 0), A)
    K2 = augment.adjust_intrinsics(np.repeat(K[None], 3, 0), A)
    for f in range(3):
        np.testing.assert_allclose(project_points(template, R, t, K2[f]), lms[f], atol=1e-9)


def test_zoom_and_pan_interpolate(portrait, portrait_landmarks):
    clip, lm = np.repeat(portrait[None], 5, 0), np.repeat(portrait_landmarks[None, :, :2], 5, 0)
    _, z = augment.synthetic_zoom(clip, lm, 1.0, 1.2)
    spread = [np.ptp(f[:, 0]) for f in z]
    np.testing.assert_allclose(np.array(spread) / spread[0], np.linspace(1, 1.2, 5), rtol=1e-9)
    _, p = augment.synthetic_pan(clip, lm, (0, 0), (40, 0))
    np.testing.assert_allclose((p - lm).mean(1)[:, 0], np.linspace(0, 40, 5))


def test_background_replacement_keeps_the_person(portrait):
    with augment.BackgroundReplacer() as bg:
        out = bg(portrait[None], (0, 255, 0))[0]
    assert (out[5, 5] == [0, 255, 0]).all() or out[5, 5, 1] > 200  # corner: background
    assert np.abs(out[120, 175].astype(int) - portrait[120, 175]).max() < 30  # face: kept


def test_stitch_plan():
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(200):
        plan = augment.stitch_plan(rng, 17, 4)
        clips = 1 + np.count_nonzero(np.diff(plan))
        counts.add(clips)
        assert len(plan) == 17 and clips <= 4 and plan.max() < 4
    assert counts == {1, 2, 3, 4}


def test_studio_dataset(tmp_path):
    make_studio(tmp_path, num_heads=1, num_cameras=3, num_frames=9, size=96, seed=1, progress=False)
    ds = StudioDataset(tmp_path, num_frames=5, samples_per_capture=3, seed=2)
    assert len(ds) == 3
    s = ds[1]
    assert s["source"].shape == s["target"].shape == s["condition"].shape == (5, 3, 96, 96)
    assert s["source"].dtype == torch.float32 and -1 <= s["target"].min() and s["target"].max() <= 1
    again = ds[1]
    assert all(torch.equal(s[k], again[k]) for k in s)  # deterministic per index
    # the condition was drawn from the target's own (transformed) landmarks: not blank
    assert (s["condition"] < 0.9).any()
    with pytest.raises(ValueError, match="4k\\+1"):
        StudioDataset(tmp_path, num_frames=6)
    with pytest.raises(ValueError, match="fewer than"):
        StudioDataset(tmp_path, num_frames=13)[0]
    with pytest.raises(ValueError, match="no studio captures"):
        StudioDataset(tmp_path / "head_000")


def test_monocular_dataset(tmp_path, portrait):
    clip = np.repeat(portrait[None], 9, 0)
    write_video(tmp_path / "clip.mp4", clip)
    ds = MonocularDataset(tmp_path, num_frames=5, samples_per_video=2)
    s = ds[0]
    assert s["target"].shape == (5, 3, 512, 348) and s["condition"].shape == (5, 3, 512, 348)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos"):
        MonocularDataset(tmp_path / "empty")
