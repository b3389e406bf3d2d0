"""Peak memory of ``python -m facecam_kit render`` on long and large clips (issue 11's targets).

Makes two synthetic clips (the sample portrait scaled up on a grey background, drifting sideways
so that every frame differs), written frame by frame with ``write_video``:

* ``1080p``: 30 s of 1920x1080 at 30 fps (900 frames); targets: peak RSS <= 1.5 GB;
* ``4k``: 81 frames of 3840x2160 at 24 fps; target: peak RSS <= 3 GB.

and prints the peak resident memory of a ``render`` subprocess on each (``--trajectory arc_left``,
no weights: the input, condition and anchor videos at the official 81 frames, 704x480), read
from ``os.wait4``. ``--kit DIR`` runs the kit found in DIR instead (e.g. an older checkout
unpacked with ``git archive``), for before/after numbers.

    .venv/bin/python benchmarks/bench_input_memory.py [--clips 1080p 4k] [--kit DIR] [--keep DIR]

Taught nowhere; the numbers go in the README and the issue.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facecam_kit.assets import load_sample_portrait
from facecam_kit.video import write_video

CLIPS = {"1080p": (1920, 1080, 30.0, 900), "4k": (3840, 2160, 24.0, 81)}


def synthetic_frames(width: int, height: int, num_frames: int):
    """The portrait, 80% of the frame height, drifting left and right: (H, W, 3) uint8 frames."""
    portrait = load_sample_portrait()
    ph = int(0.8 * height)
    pw = int(portrait.shape[1] * ph / portrait.shape[0])
    face = cv2.resize(portrait, (pw, ph), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((height, width, 3), 128, np.uint8)
    top = (height - ph) // 2
    for i in range(num_frames):
        left = (width - pw) // 2 + int(0.1 * width * np.sin(2 * np.pi * i / 120))
        frame = canvas.copy()
        frame[top : top + ph, left : left + pw] = face
        yield frame


def peak_rss_gb(cmd: list[str], env: dict, cwd: str) -> tuple[float, float, int]:
    """Peak RSS (GB, of the process and its reaped children), wall seconds and exit code of ``cmd``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    proc.stderr.close()
    if proc.returncode:
        print(f"  exit {proc.returncode}: {err[-1] if err else ''}")
    return usage.ru_maxrss / 1024**2, time.perf_counter() - t0, proc.returncode  # ru_maxrss is in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", choices=list(CLIPS), default=list(CLIPS))
    parser.add_argument("--kit", type=Path, help="a folder holding another facecam_kit to measure")
    parser.add_argument("--keep", type=Path, help="write (and reuse) the clips here instead of a temp folder")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_input_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    cwd = str(args.kit.resolve()) if args.kit else os.getcwd()
    if args.kit:
        env["PYTHONPATH"] = cwd
    print(f"kit: {args.kit or 'this checkout'}; clips in {work}")
    for name in args.clips:
        w, h, fps, n = CLIPS[name]
        clip = work / f"{name}.mp4"
        if not clip.exists():
            t0 = time.perf_counter()
            write_video(clip, synthetic_frames(w, h, n), fps=fps)
            print(f"  made {clip.name}: {n} frames {w}x{h} at {fps:g} fps in {time.perf_counter() - t0:.0f} s")
        out = work / f"out_{name}"
        cmd = [sys.executable, "-m", "facecam_kit", "render", "--video", str(clip), "--trajectory", "arc_left"]
        rss, secs, rc = peak_rss_gb([*cmd, "--out", str(out)], env, cwd)
        print(f"{name}: peak RSS {rss:.2f} GB, {secs:.0f} s{'' if rc == 0 else f' (exit {rc})'}")


if __name__ == "__main__":
    main()
