"""Reading and writing videos (H.264 MP4 through the ffmpeg binary bundled with imageio-ffmpeg).

Used from notebook 03 on to save condition videos.
"""

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
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (w, h),
            fps=fps,
            codec="libx264",
            quality=8,
            macro_block_size=1,
            output_params=["-loglevel", "error"],
        )
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
        raise ValueError(
            f"cannot decode video {path}: {str(e).splitlines()[0] if str(e) else e}. "
            f"Is it a complete video file (MP4/MOV/AVI)? Re-encode it with ffmpeg."
        ) from None
    if not frames:
        raise ValueError(f"video {path} has no frames")
    return np.stack(frames), float(meta.get("fps", 24.0))
