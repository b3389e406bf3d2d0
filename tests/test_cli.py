import numpy as np

from facecam_kit.__main__ import main
from facecam_kit.video import read_video


def test_demo_writes_the_three_outputs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sample_camera.mp4", "sample_camera_path.html", "sample_landmarks.png"]
    frames, fps = read_video(tmp_path / "sample_camera.mp4")
    assert frames.shape == (81, 704, 480, 3) and fps == 24
    assert (frames[0] < 200).any()  # something is drawn
    assert "plotly" in (tmp_path / "sample_camera_path.html").read_text()[:100000].lower()


def test_bad_trajectory_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "x"), "--trajectory", "spin"]) == 2
    assert "neither a trajectory name" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
