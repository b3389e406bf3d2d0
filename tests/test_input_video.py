import numpy as np

from facecam_kit.data.input_video import load_input_video, prepare_input_video
from facecam_kit.face.landmarks import detect_landmarks
from facecam_kit.video import write_video


def test_official_input_loading(tmp_path, portrait):
    # 60 fps -> every second frame; 20 source frames -> 10 kept, the last one repeated to 17
    frames = np.repeat(portrait[None], 20, 0).copy()
    frames[:, :4, :4] = np.arange(20)[:, None, None, None] * 10  # frame ids in a corner
    write_video(tmp_path / "clip.mp4", frames, fps=60)
    out, fps = load_input_video(tmp_path / "clip.mp4", num_frames=17, height=704, width=480)
    assert fps == 60 and out.shape == (17, 704, 480, 3)
    # the crop is centred on the nose (clamped to the frame): the face sits near the middle column
    nose = detect_landmarks(out[0])[4]
    assert abs(nose[0] - 240) < 30
    assert (out[-1] == out[10]).all()  # padded with the last frame
    assert [int(out[i, :4, :4].mean() / 20 + 0.5) for i in range(10)] == list(range(10))  # frames 0, 2, 4, ...
    same, report = prepare_input_video(tmp_path / "clip.mp4", 17, 704, 480)
    assert (same == out).all()
    assert (report.stride, report.used, report.repeated, report.decoded, report.faces_first_frame) == (2, 10, 7, 20, 1)
    assert report.checked and report.no_face == [] and report.several_faces == []
    assert report.warnings() == [
        f"{tmp_path / 'clip.mp4'} has only 10 usable frames (stride 2); the last one is repeated 7 times"
    ]
