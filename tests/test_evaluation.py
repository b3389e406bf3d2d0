"""Evaluation metrics on cases with a known answer: exact images, exact projections, real faces."""

import csv
import json

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from matplotlib import cbook

from facecam_kit.cli import main
from facecam_kit.data.path_from_video import solve_cameras
from facecam_kit.data.studio import make_studio
from facecam_kit.evaluation.camera_accuracy import camera_accuracy, classify_motion
from facecam_kit.evaluation.fidelity import psnr, psnr_per_frame, ssim, ssim_per_frame
from facecam_kit.evaluation.identity import identity_similarity
from facecam_kit.geometry.camera import project_points, rotation_about_axis
from facecam_kit.geometry.trajectory import RECAMMASTER_PRESETS, OrbitTrajectory, PresetTrajectory

H = W = 256


def stripes(period: int = 16, shape=(32, 64)) -> np.ndarray:
    """Vertical stripes, half 0 and half 200, as an RGB uint8 image."""
    on = (np.arange(shape[1]) % period) < period // 2
    return np.repeat(np.broadcast_to(np.where(on, 200, 0), shape)[..., None], 3, -1).astype(np.uint8)


def test_psnr_known_values():
    a, b = np.full((8, 8, 3), 100, np.uint8), np.full((8, 8, 3), 110, np.uint8)
    assert psnr(a, b) == pytest.approx(20 * np.log10(255) - 20)  # MSE = 100
    assert psnr(a / 255, b / 255) == pytest.approx(20 * np.log10(255) - 20)  # floats: range 1
    assert psnr(a, b, data_range=1000) == pytest.approx(40.0)
    assert psnr(a, a) == np.inf
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    b2 = a.copy()
    b2[4:] = 0  # differs only outside the mask
    assert psnr(a, b2, mask) == np.inf and np.isfinite(psnr(a, b2))
    with pytest.raises(ValueError, match="no pixel"):
        psnr(a, b, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:4])


@pytest.mark.parametrize("shift", [1, 2, 4])
def test_shifted_image_lowers_psnr_by_the_computed_amount(shift):
    img = stripes()
    moved = np.roll(img, shift, axis=1)
    # a shift of s px changes 2s of every 16 columns by 200: MSE = 200^2 s / 8
    expected = 20 * np.log10(255 / 200) - 10 * np.log10(shift / 8)
    assert psnr(img, moved) == pytest.approx(expected)
    frames = psnr_per_frame(np.stack([img, img]), np.stack([img, moved]))
    assert frames[0] == np.inf and frames[1] == pytest.approx(expected)


def test_ssim_known_values(portrait):
    assert ssim(portrait, portrait) == pytest.approx(1.0)
    # constant images: only the luminance term, (2 m1 m2 + C1) / (m1^2 + m2^2 + C1), C1 = (0.01 * 255)^2
    c1 = (0.01 * 255) ** 2
    a, b = np.full((32, 32, 3), 100, np.uint8), np.full((32, 32, 3), 110, np.uint8)
    assert ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1))
    shifted = np.roll(portrait, 3, axis=1)
    per_frame = ssim_per_frame(np.stack([portrait, portrait]), np.stack([portrait, shifted]))
    assert per_frame[0] == pytest.approx(1.0) and per_frame[1] < 0.9
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[:8, :8], b[:8, :8])


def test_same_face_scores_higher_identity_than_a_different_face(portrait):
    hopper = iio.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    hopper = np.pad(cv2.resize(hopper, (427, 500))[:, 40:388], ((6, 6), (0, 0), (0, 0)), mode="edge")
    warped = cv2.warpAffine(
        portrait, cv2.getRotationMatrix2D((174, 256), 12, 0.8), (348, 512), borderMode=cv2.BORDER_REPLICATE
    )
    blank = np.full_like(portrait, 128)
    same_mirror, same_warped, other, nothing = identity_similarity(
        portrait[None], np.stack([portrait[:, ::-1], warped, hopper, blank])
    )
    assert same_mirror > 0.95 and same_warped > 0.95  # measured 0.992, 0.997
    assert other < 0.93  # measured 0.888 (dlib distance 0.68 > its 0.6 threshold)
    assert np.isnan(nothing)
    with pytest.raises(ValueError, match="no face"):
        identity_similarity(blank[None], portrait[None])


def test_requested_cameras_score_perfectly_and_a_5_degree_orbit_scores_5(template):
    requested = OrbitTrajectory((0, 0), (5, 5), (40, 40), 5).cameras()
    exact = camera_accuracy(requested.project(template, H, W), requested, template, H, W)
    assert exact["reference"] == 0 and np.isnan(exact["rot_err_deg"][0]) and np.isnan(exact["trans_err"][0])
    np.testing.assert_allclose(exact["rot_err_deg"][1:], 0, atol=1e-5)
    np.testing.assert_allclose(exact["trans_err"][1:], 0, atol=1e-6)
    np.testing.assert_allclose(exact["landmark_px"], 0, atol=1e-9)
    # the generated camera orbits the head by 0 ... 5 degrees about the vertical: RotErr is that angle,
    # TransErr the chord of the circle at 5 degrees of elevation over the camera's distance
    generated = OrbitTrajectory((0, 5), (5, 5), (40, 40), 5).cameras()
    off = camera_accuracy(generated.project(template, H, W), requested, template, H, W)
    angles = np.linspace(0, 5, 5)
    np.testing.assert_allclose(off["rot_err_deg"][1:], angles[1:], atol=1e-4)
    chord = 2 * np.cos(np.deg2rad(5)) * np.sin(np.deg2rad(angles) / 2)
    np.testing.assert_allclose(off["trans_err"][1:], chord[1:], atol=1e-6)
    assert off["landmark_px"][-1] > 2.5 and off["detected"].all()
    missed = generated.project(template, H, W)
    missed[0] = np.nan  # no face in frame 0: errors count from frame 1
    part = camera_accuracy(missed, requested, template, H, W)
    assert not part["detected"][0] and part["reference"] == 1 and np.isnan(part["rot_err_deg"][:2]).all()
    np.testing.assert_allclose(part["rot_err_deg"][2:], angles[2:] - angles[1], atol=1e-4)
    # a face in one frame only: no motion to score, so no RotErr (not a perfect 0)
    lone = np.full_like(missed, np.nan)
    lone[2] = missed[2]
    single = camera_accuracy(lone, requested, template, H, W)
    assert single["reference"] == 2 and np.isnan(single["rot_err_deg"]).all() and np.isnan(single["trans_err"]).all()


def test_head_motion_is_removed_when_given(template):
    requested = OrbitTrajectory((20, 20), (0, 0), (30, 30), 5).cameras()
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[:, :3, :3] = rotation_about_axis([0, 0, 1], np.linspace(0, 12, 5))  # the head turns 12 degrees
    moving = np.einsum("fij,nj->fni", poses[:, :3, :3], template)
    K = requested.intrinsics(H, W)
    lm = np.stack([project_points(moving[f], requested.R[f], requested.t[f], K[f]) for f in range(5)])
    still = camera_accuracy(lm, requested, template, H, W)
    np.testing.assert_allclose(still["rot_err_deg"][1:], np.linspace(0, 12, 5)[1:], atol=1e-4)
    compensated = camera_accuracy(lm, requested, template, H, W, head_poses=poses)
    np.testing.assert_allclose(compensated["rot_err_deg"][1:], 0, atol=1e-5)
    np.testing.assert_allclose(compensated["landmark_px"], 0, atol=1e-6)


@pytest.mark.parametrize("name", list(RECAMMASTER_PRESETS))
def test_classifier_recovers_each_preset_from_its_cameras(name, template):
    traj = PresetTrajectory(name, 9)
    cams = traj.cameras()
    rng = np.random.default_rng(list(RECAMMASTER_PRESETS).index(name))
    lm = cams.project(template, H, W) + rng.normal(0, 0.5, (9, 478, 2))  # half a pixel of detector noise
    result = camera_accuracy(lm, cams, template, H, W, preset=traj)
    assert result["motion"] == name and result["motion_correct"] is True
    scores = result["motion_scores"]
    assert scores[name] < 0.5 * sorted(scores.values())[1]  # clearly nearer than the runner-up


def test_classifier_inputs(template):
    assert classify_motion(np.full((5, 3, 3), np.nan), np.full((5, 3), np.nan)) == (None, {})
    with pytest.raises(ValueError, match="478"):
        solve_cameras(np.zeros((2, 68, 2)), template, np.eye(3))
    cams = PresetTrajectory("pan_left", 5).cameras()
    with pytest.raises(ValueError, match="frames"):
        camera_accuracy(np.zeros((4, 478, 2)), cams, template, H, W)


def test_evaluate_job_on_studio_ground_truth(tmp_path, capsys):
    """End to end on real renders: MediaPipe, dlib and PnP through the CLI."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU rasteriser's 2 OpenMP threads crawl (~35x) when other jobs share the cores
    try:
        make_studio(tmp_path / "studio", 1, 3, 5, size=160, seed=0, progress=False, azimuths=[-20, 0, 20])
    finally:
        torch.set_num_threads(threads)
    manifest = tmp_path / "manifest.json"
    entries = [
        {"studio": "studio/head_000", "source_camera": 1, "target_camera": 0, "name": "truth"},
        {"studio": "studio/head_000", "source_camera": 1, "target_camera": 0, "name": "wrong_view",
         "generated": "studio/head_000/cam_02.mp4"},
    ]  # fmt: skip
    manifest.write_text(json.dumps(entries))
    assert main(["evaluate", "--manifest", str(manifest), "--out", str(tmp_path / "eval")]) == 0
    printed = capsys.readouterr().out
    assert "LPIPS not computed" in printed and "truth" in printed
    rows = {r["video"]: r for r in csv.DictReader(open(tmp_path / "eval" / "evaluation.csv"))}
    truth, wrong = rows["truth"], rows["wrong_view"]
    assert float(truth["psnr"]) == np.inf and float(truth["ssim"]) == pytest.approx(1.0)
    assert float(truth["identity"]) > 0.9 and float(truth["face_detected"]) == 1.0
    # the detector's floor on ground truth: landmarks within a few px, RotErr a few degrees
    assert float(truth["landmark_px"]) < 4 and float(truth["rot_err_deg"]) < 8
    assert float(wrong["psnr"]) < 25 and float(wrong["ssim"]) < 0.9
    assert float(wrong["landmark_px"]) > 3 * float(truth["landmark_px"])  # 40 degrees off: far from the condition
    doc = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert len(doc["frames"]) == 10 and doc["summary"]["videos"] == 2
    assert iio.imread(tmp_path / "eval" / "evaluation.png").shape[2] in (3, 4)


def test_evaluate_job_input_errors(tmp_path, capsys):
    assert main(["evaluate", "--out", str(tmp_path)]) == 2
    assert "--generated" in capsys.readouterr().err
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps([{"generated": "x.mp4", "colour": 1}]))
    assert main(["evaluate", "--manifest", str(bad)]) == 2
    assert "unknown keys ['colour']" in capsys.readouterr().err
    bad.write_text(json.dumps([{"generated": "x.mp4", "trajectory": "pan_left"}]))
    assert main(["evaluate", "--manifest", str(bad)]) == 2
    assert "generated video not found" in capsys.readouterr().err
    assert not list(tmp_path.glob("evaluation*"))
