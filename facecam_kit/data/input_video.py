"""The source video as FaceCam's inference prepares it: frame stride, the face-centred crop, padding.

Taught in notebook 06 (what the model sees); the official rules are in ``docs/official_behaviour.md``,
section 4.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecam_kit.face.landmarks import NoFaceDetected, detect_landmarks
from facecam_kit.face.topology import NOSE_TIP
from facecam_kit.spec import HEIGHT, NUM_FRAMES, WIDTH
from facecam_kit.video import read_video


def crop_window(frame: np.ndarray, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The official crop of a frame: scale to cover ``height x width``, then a window centred on
    the nose tip (MediaPipe landmark 4), clamped inside the frame; centred when no face is found.

    Returns ((new_h, new_w), (top, left)). Knowingly differs from the official in two details:
    sizes are rounded up (the official's int() can leave a 1350x1080 input 703 px high), and
    MediaPipe sees RGB (the official passes BGR labelled as RGB).
    """
    h, w = frame.shape[:2]
    s = max(height / h, width / w)
    new_h, new_w = max(height, int(np.ceil(h * s - 1e-6))), max(width, int(np.ceil(w * s - 1e-6)))
    try:
        nose = detect_landmarks(frame, "the first frame")[NOSE_TIP, :2] * s
    except NoFaceDetected:
        nose = np.array([new_w / 2, new_h / 2])
    left = int(np.clip(round(nose[0] - width / 2), 0, new_w - width))
    top = int(np.clip(round(nose[1] - height / 2), 0, new_h - height))
    return (new_h, new_w), (top, left)


def load_input_video(
    path, num_frames: int = NUM_FRAMES, height: int = HEIGHT, width: int = WIDTH
) -> tuple[np.ndarray, float]:
    """Read and prepare a source video as the official inference does.

    Frame stride ``max(1, int(fps / 24))`` from frame 0 until ``num_frames`` are collected; every
    frame cropped with the first frame's :func:`crop_window`; the last frame repeated when the
    video is short. Returns (num_frames, height, width, 3) uint8 and the source fps.
    """
    frames, fps = read_video(path)
    stride = max(1, int(fps / 24))
    frames = frames[::stride][:num_frames]
    (new_h, new_w), (top, left) = crop_window(frames[0], height, width)
    out = np.stack(
        [
            cv2.resize(f, (new_w, new_h), interpolation=cv2.INTER_AREA)[top : top + height, left : left + width]
            for f in frames
        ]
    )
    if len(out) < num_frames:
        out = np.concatenate([out, np.repeat(out[-1:], num_frames - len(out), 0)])
    return out, fps
