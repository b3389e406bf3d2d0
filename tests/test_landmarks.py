import numpy as np
import pytest
from skimage.data import coffee

from facecam_kit.face.landmarks import NoFaceDetected, detect_landmarks, detect_landmarks_video


def test_real_photo_gives_478_landmarks_on_the_face(portrait, portrait_landmarks):
    lm = portrait_landmarks
    assert lm.shape == (478, 3) and lm.dtype == np.float64
    # the face of the sample portrait is around x 130-220, y 70-180 (see sample_landmarks.png)
    assert 120 < lm[:, 0].min() and lm[:, 0].max() < 230
    assert 60 < lm[:, 1].min() and lm[:, 1].max() < 190
    # iris centres (468, 473) sit inside the eye contours, the nose below the eyes
    assert lm[4, 1] > lm[468, 1] and lm[4, 1] > lm[473, 1]
    assert lm[468, 0] < lm[473, 0]  # right iris on the image's left


def test_detection_is_deterministic(portrait, portrait_landmarks):
    np.testing.assert_array_equal(detect_landmarks(portrait), portrait_landmarks)


def test_no_face_raises_a_named_error():
    with pytest.raises(NoFaceDetected, match="No face detected in the coffee photo"):
        detect_landmarks(coffee(), "the coffee photo")


def test_video_reports_the_frame_without_a_face(portrait):
    blank = np.full_like(portrait, 128)
    with pytest.raises(NoFaceDetected) as err:
        detect_landmarks_video(np.stack([portrait, portrait, blank]), "clip.mp4", progress=False)
    assert err.value.frame_index == 2 and "frame 2 of clip.mp4" in str(err.value)
    lm = detect_landmarks_video(np.stack([portrait, portrait[:, ::-1]]), progress=False)
    assert lm.shape == (2, 478, 3)
    w = portrait.shape[1]
    assert abs((w - lm[1, 4, 0]) - lm[0, 4, 0]) < 3  # mirrored frame: mirrored nose


def test_bad_images_raise_value_error(portrait):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) and dtype uint8"):
        detect_landmarks(portrait.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detect_landmarks(portrait[..., 0])
