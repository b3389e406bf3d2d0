"""Reading and writing videos (H.264 MP4 through the ffmpeg binary bundled with imageio-ffmpeg)."""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np


def write_video(path, frames, fps: float = 24.0) -> Path:
    """Write (F, H, W, 3) uint8 RGB frames to an MP4; atomically, so no half-written file remains.

    H and W must be even (H.264 with yuv420p).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be (F, H, W, 3) uint8 with F >= 1, got {frames.dtype} {frames.shape}")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {h}x{w}; crop or pad by one pixel")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264",
                                             quality=8, macro_block_size=1,
                                             output_params=["-loglevel", "error"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_video(path) -> tuple[np.ndarray, float]:
    """Read a video into (F, H, W, 3) uint8 RGB frames and its frame rate.

    Raises FileNotFoundError or ValueError (unreadable / empty file) naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
        w, h = meta["size"]
        frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
    except (RuntimeError, OSError, StopIteration, KeyError) as e:
        raise ValueError(f"cannot decode video {path}: {str(e).splitlines()[0] if str(e) else e}. "
                         f"Is it a complete video file (MP4/MOV/AVI)? Re-encode it with ffmpeg.") from None
    if not frames:
        raise ValueError(f"video {path} has no frames")
    return np.stack(frames), float(meta.get("fps", 24.0))


def crop_window(frame: np.ndarray, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The official crop of a frame: scale to cover ``height x width``, then a window centred on
    the nose tip (MediaPipe landmark 4), clamped inside the frame; centred when no face is found.

    Returns ((new_h, new_w), (top, left)). Knowingly differs from the official in two details:
    sizes are rounded up (the official's int() can leave a 1350x1080 input 703 px high), and
    MediaPipe sees RGB (the official passes BGR labelled as RGB).
    """
    from .landmarks import NoFaceDetected, detect_landmarks
    from .topology import NOSE_TIP

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


def load_input_video(path, num_frames: int = 81, height: int = 704, width: int = 480) -> tuple[np.ndarray, float]:
    """Read and prepare a source video as the official inference does.

    Frame stride ``max(1, int(fps / 24))`` from frame 0 until ``num_frames`` are collected; every
    frame cropped with the first frame's :func:`crop_window`; the last frame repeated when the
    video is short. Returns (num_frames, height, width, 3) uint8 and the source fps.
    """
    import cv2

    frames, fps = read_video(path)
    stride = max(1, int(fps / 24))
    frames = frames[::stride][:num_frames]
    (new_h, new_w), (top, left) = crop_window(frames[0], height, width)
    out = np.stack([cv2.resize(f, (new_w, new_h), interpolation=cv2.INTER_AREA)[top:top + height, left:left + width]
                    for f in frames])
    if len(out) < num_frames:
        out = np.concatenate([out, np.repeat(out[-1:], num_frames - len(out), 0)])
    return out, fps
