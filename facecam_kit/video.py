"""Reading and writing videos (H.264 MP4 through the ffmpeg binary bundled with imageio-ffmpeg).

Frames stream in and out one at a time (:func:`iter_video`, :func:`write_video` with a generator),
so a long 4K clip needs the memory of one frame, not of the clip.

Used from notebook 03 on to save condition videos.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np


def _check_frame(f, shape=None) -> np.ndarray:
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[-1] != 3 or f.dtype != np.uint8 or (shape is not None and f.shape != shape):
        want = f"{shape}" if shape is not None else "(H, W, 3)"
        raise ValueError(f"frames must be (F, H, W, 3) uint8 RGB, each {want}; got a frame {f.dtype} {f.shape}")
    return f


def write_video(path, frames: Iterable[np.ndarray], fps: float = 24.0) -> Path:
    """Write uint8 RGB frames ((F, H, W, 3), or any iterable of (H, W, 3)) to an MP4.

    Atomic: frames go to a hidden ``.partial`` file that replaces ``path`` only once complete, so
    no half-written video remains. H and W must be even (H.264 with yuv420p).
    """
    if isinstance(frames, np.ndarray) and (frames.ndim != 4 or len(frames) == 0):
        raise ValueError(f"frames must be (F, H, W, 3) uint8 with F >= 1, got {frames.dtype} {frames.shape}")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"no frames to write to {path}")
    first = _check_frame(first)
    h, w = first.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 needs even frame sizes, got {h}x{w}; crop or pad by one pixel")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = None
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
        try:
            writer.send(np.ascontiguousarray(first))
            for f in it:
                writer.send(np.ascontiguousarray(_check_frame(f, first.shape)))
            writer.close()
        except OSError as e:  # ffmpeg stopped: "Broken pipe" says nothing, so say what usually causes it
            free = shutil.disk_usage(path.parent).free
            raise OSError(
                f"could not write {path}: ffmpeg stopped ({str(e).splitlines()[0]}); is the disk full? "
                f"{free / 2**20:,.0f} MB free in {path.parent} (ffmpeg's own message is above)"
            ) from None
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: frame size, frame rate and the expected number of frames
    (``duration * fps``; None when the container does not say)."""

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int | None


def _decode_error(path: Path, e: Exception) -> ValueError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(
        f"cannot decode video {path}: {first}. Is it a complete video file (MP4/MOV/AVI)? Re-encode it with ffmpeg."
    )


def _open(path) -> tuple[VideoInfo, Iterator[bytes]]:
    path = Path(path)
    if not path.is_file():
        why = " (a broken symbolic link or a symlink loop)" if path.is_symlink() else ""
        raise FileNotFoundError(f"video not found: {path}{why}")
    for attempt in range(2):
        reader = imageio_ffmpeg.read_frames(str(path))
        try:
            meta = next(reader)
            w, h = meta["size"]
            fps = float(meta.get("fps") or 0.0)
            break
        except (RuntimeError, OSError, StopIteration, KeyError, TypeError, ValueError) as e:
            reader.close()
            # imageio-ffmpeg gives ffmpeg 10 s to print the header: on a starved CPU a sound file can
            # miss it once (seen in a clean-clone test run), a broken one fails again at once
            if attempt:
                raise _decode_error(path, e) from None
    if not (math.isfinite(fps) and fps > 0):
        fps = 24.0
    duration = meta.get("duration")
    n = int(round(duration * fps)) if isinstance(duration, (int, float)) and math.isfinite(duration) else None
    return VideoInfo(path, int(w), int(h), fps, n or None), reader


def iter_video(path) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """The header of a video and a generator of its (H, W, 3) uint8 RGB frames, decoded one at a
    time (constant memory). Close the generator (or let it finish) to stop ffmpeg early.

    Raises FileNotFoundError, or ValueError naming the path when the file cannot be decoded.
    """
    info, reader = _open(path)

    def frames():
        try:
            for b in reader:
                yield np.frombuffer(b, np.uint8).reshape(info.height, info.width, 3)
        except (RuntimeError, OSError) as e:
            raise _decode_error(info.path, e) from None
        finally:
            reader.close()

    return info, frames()


def probe_video(path) -> VideoInfo:
    """Check that a video opens and its first frame decodes, without decoding the rest."""
    info, frames = iter_video(path)
    try:
        if next(frames, None) is None:
            raise ValueError(f"video {info.path} has no frames")
    finally:
        frames.close()
    return info


def count_frames(path) -> int:
    """The exact number of frames of a video, from its packets (ffmpeg's stream copy: nothing is
    decoded, a 10 s 1080p clip takes a fraction of a second). ValueError naming the path."""
    import re
    import subprocess

    info = probe_video(path)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(info.path), "-map", "0:v:0", "-c", "copy"]
    r = subprocess.run([*cmd, "-f", "null", "-"], capture_output=True, text=True, errors="replace")
    found = re.findall(r"frame=\s*(\d+)", r.stderr)
    if r.returncode or not found:
        raise _decode_error(info.path, RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""))
    return int(found[-1])


def read_video(path) -> tuple[np.ndarray, float]:
    """Read a whole video into (F, H, W, 3) uint8 RGB frames and its frame rate.

    Raises FileNotFoundError or ValueError (unreadable / empty file) naming the path. For long
    clips use :func:`iter_video`, which holds one frame at a time.
    """
    info, frames = iter_video(path)
    out = list(frames)
    if not out:
        raise ValueError(f"video {info.path} has no frames")
    return np.stack(out), info.fps
