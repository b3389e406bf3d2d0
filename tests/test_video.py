import numpy as np
import pytest

from facecam_kit.video import iter_video, probe_video, read_video, write_video


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


def test_a_header_missed_once_is_read_again(tmp_path, monkeypatch):
    """imageio-ffmpeg's 10 s wait for ffmpeg's header can run out on a starved CPU: one miss is retried."""
    import imageio_ffmpeg

    frames = np.zeros((3, 32, 32, 3), np.uint8)
    path = write_video(tmp_path / "a.mp4", frames, fps=24)
    real, calls = imageio_ffmpeg.read_frames, []

    def missed():  # a generator, as read_frames is: it fails when the header is asked for
        raise OSError("Could not load meta information\n=== stderr ===\n")
        yield

    def starved(*args, **kw):
        calls.append(args)
        return missed() if len(calls) == 1 else real(*args, **kw)

    monkeypatch.setattr(imageio_ffmpeg, "read_frames", starved)
    assert read_video(path)[0].shape == frames.shape and len(calls) == 2
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    calls.clear()
    with pytest.raises(ValueError, match="broken.mp4"):  # a broken file still fails, after a second try
        read_video(broken)
    assert len(calls) == 2


def test_streaming_in_and_out(tmp_path):
    # a generator goes in frame by frame; iter_video gives them back one at a time, stopping early
    gen = (np.full((32, 48, 3), 10 * i, np.uint8) for i in range(20))
    path = write_video(tmp_path / "s.mp4", gen, fps=30)
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.num_frames) == (48, 32, 30.0, 20)
    info, frames = iter_video(path)
    first = [next(frames) for _ in range(3)]
    frames.close()
    np.testing.assert_allclose([np.median(f) for f in first], [0, 10, 20], atol=2)  # H.264 rounds a little
    with pytest.raises(ValueError, match="frames must be"):
        write_video(
            tmp_path / "bad.mp4",
            (np.zeros((32, 48, 3), np.uint8) if i == 0 else np.zeros((30, 48, 3), np.uint8) for i in range(2)),
        )
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "none.mp4", iter([]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mp4"]
