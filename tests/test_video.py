import numpy as np
import pytest

from facecam_kit.video import read_video, write_video


def test_roundtrip(tmp_path):
    frames = np.zeros((9, 64, 48, 3), np.uint8)
    frames[:, 16:48, 8:40] = np.arange(9)[:, None, None, None] * 25
    path = write_video(tmp_path / "a.mp4", frames, fps=24)
    back, fps = read_video(path)
    assert back.shape == frames.shape and fps == 24
    assert np.abs(back.astype(int) - frames).mean() < 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


def test_errors_name_the_file_and_leave_nothing_behind(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(ValueError, match="broken.mp4"):
        read_video(broken)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 65, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 64, 48, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]
