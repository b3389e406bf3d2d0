"""Condition drawing speed: the kit's drawing vs MediaPipe's drawing utility (the official way).

    python benchmarks/bench_condition.py [--frames 81] [--repeats 20]

Prints ms per frame for both, and the slider preview latency (81 frames at 704 x 480).
"""

import argparse
import time

import numpy as np
from mediapipe.framework.formats import landmark_pb2
from mediapipe.python.solutions import drawing_styles, drawing_utils
from mediapipe.python.solutions import face_mesh_connections as fmc

from facecam_kit.face.condition import draw_condition, orbit_condition_preview
from facecam_kit.face.template import load_template
from facecam_kit.geometry.trajectory import OrbitTrajectory


def median_ms(fn, repeats):
    fn()  # warm-up (JIT compilation, thread pool)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def mediapipe_draw(landmarks_px, h=704, w=480):
    lms = landmark_pb2.NormalizedLandmarkList()
    for x, y in landmarks_px[:, :2]:
        lms.landmark.add(x=x / w, y=y / h)
    img = np.full((h, w, 3), 255, np.uint8)
    for conns, style in (
        (fmc.FACEMESH_TESSELATION, drawing_styles.get_default_face_mesh_tesselation_style()),
        (fmc.FACEMESH_CONTOURS, drawing_styles.get_default_face_mesh_contours_style()),
        (fmc.FACEMESH_IRISES, drawing_styles.get_default_face_mesh_iris_connections_style()),
    ):
        drawing_utils.draw_landmarks(img, lms, conns, None, style)
    return img


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    traj = OrbitTrajectory((-40, 40), (-20, 20), (25, 55), a.frames)
    lm = traj.cameras().project(load_template())
    ours_video = median_ms(lambda: draw_condition(lm), a.repeats) / a.frames
    ours_single = median_ms(lambda: draw_condition(lm[a.frames // 2]), a.repeats)
    mp_single = median_ms(lambda: mediapipe_draw(lm[a.frames // 2]), a.repeats)
    preview = median_ms(lambda: orbit_condition_preview(-40, 40, -20, 20, 25, 55), a.repeats)
    print(f"MediaPipe drawing_utils, one 704x480 frame : {mp_single:7.2f} ms/frame")
    print(f"facecam_kit, one frame                    : {ours_single:7.2f} ms/frame")
    print(
        f"facecam_kit, {a.frames}-frame video             : {ours_video:7.2f} ms/frame "
        f"({mp_single / ours_video:.0f}x faster than MediaPipe)"
    )
    print(f"slider preview (81 frames incl. projection): {preview:7.1f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
