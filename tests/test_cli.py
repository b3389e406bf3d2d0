import json

import imageio.v3 as iio
import numpy as np

from facecam_kit.cli import main
from facecam_kit.geometry.trajectory import OrbitTrajectory, save_trajectory
from facecam_kit.video import read_video


def test_demo_writes_its_outputs(tmp_path, capsys):
    # a short orbit keeps the CPU rendering of the proxy head quick; `make demo` uses 81 frames
    traj = save_trajectory(OrbitTrajectory((-30, 30), (0, 10), (35, 45), num_frames=5), tmp_path / "orbit.json")
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--trajectory", str(traj), "--frames", "5"]) == 0
    names = sorted(p.name for p in out.iterdir() if p.name.startswith("sample"))
    assert names == [
        "sample_anchor.mp4",
        "sample_anchor_mask.mp4",
        "sample_camera.mp4",
        "sample_camera_path.html",
        "sample_input.mp4",
        "sample_landmarks.png",
        "sample_mini.mp4",
        "sample_proxy.mp4",
        "sample_run.json",
    ]
    run = json.loads((out / "sample_run.json").read_text())
    assert run["job"] == "demo" and run["files"] == names[:-1] and run["trajectory"]["kind"] == "orbit"
    assert run["facecam_mini"]["label"].startswith("FaceCam-mini outside its domain")
    # without weights, FaceCam-mini re-renders a held-out studio head beside its ground truth
    studio = sorted(p.name for p in out.iterdir() if p.name.startswith("studio"))
    assert studio == [
        "studio_generated.mp4",
        "studio_run.json",
        "studio_side_by_side.mp4",
        "studio_side_by_side.png",
        "studio_target.mp4",
    ]
    generated, target = read_video(out / "studio_generated.mp4")[0], read_video(out / "studio_target.mp4")[0]
    assert generated.shape == target.shape == (33, 96, 96, 3)  # the whole trajectory, frame by frame
    assert read_video(out / "studio_side_by_side.mp4")[0].shape == (33, 136, 384, 3)  # two label strips
    assert iio.imread(out / "studio_side_by_side.png").shape == (4 * (20 + 96), 6 * 96, 3)  # four rows of six
    studio_run = json.loads((out / "studio_run.json").read_text())
    assert studio_run["label"] == "FaceCam-mini, trained on synthetic heads" and studio_run["frames"] == 33
    # a 60-degree sweep at another lens than training's is hard for the mini model
    assert 6 < studio_run["psnr_db"] < 40 and generated[-1].std() > 10  # a head, not a blank frame
    assert studio_run["flicker"] > 0 and studio_run["flicker_truth"] > 0
    assert read_video(out / "sample_mini.mp4")[0].shape == (33, 96, 96, 3)
    assert run["input"]["used"] == 5 and run["input"]["no_face"] == [] and run["warnings"] == []
    assert "Wan2.2-I2V-A14B-Diffusers" in capsys.readouterr().out  # says what to download
    frames, fps = read_video(out / "sample_camera.mp4")
    assert frames.shape == (5, 704, 480, 3) and fps == 24
    assert (frames[0] < 200).any()  # something is drawn
    proxy, _ = read_video(out / "sample_proxy.mp4")
    assert proxy.shape == (5, 704, 480, 3)
    assert (proxy[:, 500:] > 245).all() and (proxy[:, :480] < 200).any()  # head in the top square, white padding
    anchor, _ = read_video(out / "sample_anchor.mp4")
    mask, _ = read_video(out / "sample_anchor_mask.mp4")
    assert anchor.shape == mask.shape == (5, 704, 480, 3)
    valid = mask[..., 0] > 127
    assert 0.3 < valid.mean() < 0.95  # a real re-rendering, with holes left as holes
    assert anchor[~valid].mean() < 40 and anchor[valid].mean() > 60
    assert "plotly" in (out / "sample_camera_path.html").read_text()[:100000].lower()


def test_bad_trajectory_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "x"), "--trajectory", "spin"]) == 2
    assert "neither a trajectory name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_render_with_a_saved_tiny_model(tmp_path):
    from facecam_kit.assets import data_path
    from facecam_kit.model.pipeline import tiny_facecam_pipeline

    tiny_facecam_pipeline().save_pretrained(tmp_path / "tiny")
    args = [
        "render",
        "--video",
        str(data_path("sample_clip.mp4")),
        "--trajectory",
        "pan_left",
        "--out",
        str(tmp_path / "o"),
        "--weights",
        str(tmp_path / "tiny"),
        "--frames",
        "9",
        "--height",
        "128",
        "--width",
        "96",
        "--steps",
        "2",
    ]
    assert main(args) == 0
    generated, fps = read_video(tmp_path / "o" / "sample_clip.mp4")
    assert generated.shape == (9, 128, 96, 3) and fps == 24
    assert np.median(generated[:, 9:12]) < 20 < np.median(generated[:, 20:])  # the "random weights" banner is burnt in
    assert read_video(tmp_path / "o" / "sample_clip_input.mp4")[0].shape == (9, 128, 96, 3)
    args[args.index("--weights") + 1] = str(tmp_path / "nothing")
    assert main(args) == 2  # a clear error naming the missing files, no traceback


def test_render_with_the_shipped_facecam_mini(tmp_path):
    """``render --weights data_samples/facecam_mini/landmarks`` loads FaceCam-mini's pipeline and
    re-renders the clip frame by frame, unlabelled (trained weights)."""
    from facecam_kit.assets import data_path
    from facecam_kit.mini.models import MINI_DIR

    args = ["render", "--video", str(data_path("sample_clip.mp4")), "--trajectory", "arc_left", "--out",
            str(tmp_path / "o"), "--weights", str(MINI_DIR / "landmarks"), "--frames", "9", "--height", "96",
            "--width", "96"]  # fmt: skip
    assert main(args) == 0
    generated, _ = read_video(tmp_path / "o" / "sample_clip.mp4")
    assert generated.shape == (9, 96, 96, 3) and generated.std() > 10
    run = json.loads((tmp_path / "o" / "sample_clip_run.json").read_text())
    assert run["label"] is None and run["warnings"] == []
