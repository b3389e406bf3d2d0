"""Condition drawing speed: the kit's drawing vs MediaPipe's drawing utility (the official way).

    python benchmarks/bench_condition.py [--frames 81] [--repeats 20]

Prints ms per frame for both, the slider preview latency (81 frames at 704 x 480), and the keyframe
editor's two updates per slider move: its preview (the 81 cameras of a keyframe trajectory, the six
frames shown drawn; target <= 20 ms) and its plotly 3D view of the path (target <= 50 ms).
"""

import argparse
import time

import numpy as np

from facecam_kit.face.condition import draw_condition, draw_condition_mediapipe, orbit_condition_preview
from facecam_kit.face.template import load_template
from facecam_kit.geometry.trajectory import KeyframeTrajectory, OrbitTrajectory
from facecam_kit.widgets import path_figure, trajectory_strip


def median_ms(fn, repeats):
    fn()  # warm-up (JIT compilation, thread pool)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    traj = OrbitTrajectory((-40, 40), (-20, 20), (25, 55), a.frames)
    lm = traj.cameras().project(load_template())
    ours_video = median_ms(lambda: draw_condition(lm), a.repeats) / a.frames
    ours_single = median_ms(lambda: draw_condition(lm[a.frames // 2]), a.repeats)
    mp_single = median_ms(lambda: draw_condition_mediapipe(lm[a.frames // 2]), a.repeats)
    preview = median_ms(lambda: orbit_condition_preview(-40, 40, -20, 20, 25, 55), a.repeats)
    print(f"MediaPipe drawing_utils, one 704x480 frame : {mp_single:7.2f} ms/frame")
    print(f"facecam_kit, one frame                    : {ours_single:7.2f} ms/frame")
    print(
        f"facecam_kit, {a.frames}-frame video             : {ours_video:7.2f} ms/frame "
        f"({mp_single / ours_video:.0f}x faster than MediaPipe)"
    )
    print(f"slider preview (81 frames incl. projection): {preview:7.1f} ms (target <= 100 ms)")
    keys = KeyframeTrajectory(
        (
            {"frame": 0, "azimuth": -40, "hfov": 30},
            {"frame": 40, "azimuth": 0, "elevation": 15, "roll": 10, "aim": [0, 0, 0.1], "distance": 2.4},
            {"frame": 80, "azimuth": 40, "hfov": 50},
        ),
        81,
    )
    head = load_template()
    editor_preview = median_ms(lambda: trajectory_strip(keys), a.repeats)
    editor_view = median_ms(lambda: path_figure(keys, head, 1), a.repeats)
    print(f"keyframe editor preview (81 cameras, 6 drawn): {editor_preview:7.1f} ms (target <= 20 ms)")
    print(f"keyframe editor 3D view (plotly figure)      : {editor_view:7.1f} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
