"""FaceCam's camera condition: facial landmarks rasterised into the target view.

The drawing reproduces the official ``mediapipe_utils.py`` pixel for pixel: a white canvas,
the tessellation in grey (1 px), then the contours and irises (2 px) in MediaPipe's default
colours, with no landmark dots. Landmarks map to pixels as MediaPipe's ``drawing_utils`` does
(``min(floor(u), W - 1)``), and an edge is skipped when either end lies outside the canvas.

**Colour quirk, reproduced on purpose.** MediaPipe's style colours are BGR, but the official
canvas is RGB, so the right eye's "red" (48, 48, 255) is stored as *blue* in the saved frames.
A model trained on those frames expects blue, so we draw blue too.

Speed: MediaPipe's drawing utility (:func:`draw_condition_mediapipe`, kept as the reference)
loops over ~2700 edges in Python (4.6 ms a frame at 480 px on a fast machine). Here the 2556
tessellation lines of all frames go through one compiled loop that walks lines exactly like
OpenCV's 8-connected ``cv2.line``, and the 2 px strokes are one ``cv2.polylines`` call per run
of one colour (OpenCV's own thick-line shape, as ``cv2.line``).

Taught in notebook 03 (landmark camera conditions); used by every notebook after it.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numba
import numpy as np
from mediapipe.framework.formats import landmark_pb2
from mediapipe.python.solutions import drawing_styles, drawing_utils
from mediapipe.python.solutions import face_mesh_connections as fmc

from facecam_kit.face import topology
from facecam_kit.geometry.trajectory import OrbitTrajectory, Trajectory
from facecam_kit.spec import HEIGHT, NUM_FRAMES, WIDTH

_WORKERS = os.cpu_count() or 1
_TESSELATION_COLOR = np.array(topology.TESSELATION_STYLE[0], dtype=np.uint8)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="facecam-draw")


def _colour_runs(colors: np.ndarray) -> list[tuple[int, int, tuple]]:
    """(start, stop, colour) of each run of equal colours, in drawing order."""
    cut = [0, *(np.flatnonzero((colors[1:] != colors[:-1]).any(1)) + 1), len(colors)]
    return [(a, b, tuple(int(v) for v in colors[a])) for a, b in zip(cut[:-1], cut[1:])]


# Contours then irises, 2 px, in the official order: one OpenCV call per run of one colour.
_THICK_EDGES = np.concatenate([topology.CONTOURS, topology.IRISES])
_THICK_RUNS = _colour_runs(np.concatenate([topology.CONTOUR_COLORS, topology.IRIS_COLORS]))
# Frames are stacked in one tall canvas so that each run is one call for the whole video;
# a 2 px stroke reaches at most 2 px past its end points, into gap rows between frames.
_GAP = 2


@numba.njit(cache=True, nogil=True)
def draw_lines_1px(out, px, valid, edges, color):  # pragma: no cover - compiled
    """Draw 1 px mesh edges exactly as OpenCV's 8-connected ``cv2.line`` does, in place.

    out: (F, H, W, 3) uint8; px: (F, N, 2) int pixels (x, y) inside the image; valid: (F, N)
    bool; edges: (E, 2) int; color: (3,) uint8. An edge is drawn when both ends are valid.
    OpenCV walks from the left end along the major axis and steps the minor axis whenever its
    error term is negative.
    """
    for f in range(px.shape[0]):
        for i in range(edges.shape[0]):
            s, e = edges[i, 0], edges[i, 1]
            if not (valid[f, s] and valid[f, e]):
                continue
            ax, ay, bx, by = px[f, s, 0], px[f, s, 1], px[f, e, 0], px[f, e, 1]
            if ax > bx:
                ax, ay, bx, by = bx, by, ax, ay
            dx = bx - ax
            dy = by - ay
            sy = -1 if dy < 0 else 1
            ady = abs(dy)
            y_major = ady > dx
            major = ady if y_major else dx
            minor = dx if y_major else ady
            err = major - 2 * minor
            x, y = ax, ay
            for _ in range(major + 1):
                out[f, y, x, 0] = color[0]
                out[f, y, x, 1] = color[1]
                out[f, y, x, 2] = color[2]
                step_minor = err < 0
                err -= 2 * minor
                if step_minor:
                    err += 2 * major
                if y_major:
                    y += sy
                    if step_minor:
                        x += 1
                else:
                    x += 1
                    if step_minor:
                        y += sy


def landmarks_to_pixels(landmarks, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's pixel mapping: integer pixels (…, N, 2) and a validity mask (…, N).

    A landmark is drawable when ``0 <= u <= W`` and ``0 <= v <= H`` (normalised coordinates in
    [0, 1]); its pixel is ``min(floor(u), W - 1)``.
    """
    uv = np.asarray(landmarks, dtype=np.float64)[..., :2]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(uv).all(-1) & (uv >= 0).all(-1) & (uv[..., 0] <= width) & (uv[..., 1] <= height)
    px = np.minimum(np.floor(np.nan_to_num(uv)), [width - 1, height - 1]).astype(np.int64)
    return px, valid


def draw_condition(
    landmarks,
    height: int = HEIGHT,
    width: int = WIDTH,
    background: np.ndarray | None = None,
    supersample: int = 1,
) -> np.ndarray:
    """Rasterise face-mesh landmarks as FaceCam's camera condition.

    landmarks: (478, 2|3) or (F, 478, 2|3) pixel coordinates (x right, y down); z is ignored.
    background: optional (H, W, 3) or (F, H, W, 3) uint8 RGB image to draw on (white if None).
    supersample: draw at ``supersample`` times the size and area-average down: the official drawing
    as a larger frame would show it, seen at this size (at 96 px the 1-px mesh of a 40-px face is
    aliased noise; FaceCam-mini's scale recipe draws at 4x). 1: the official pixels.
    Returns uint8 RGB, (H, W, 3) or (F, H, W, 3).
    """
    lm = np.asarray(landmarks)
    if lm.ndim not in (2, 3) or lm.shape[-2] != topology.NUM_LANDMARKS or lm.shape[-1] not in (2, 3):
        raise ValueError(
            f"landmarks must have shape ({topology.NUM_LANDMARKS}, 2|3) or "
            f"(F, {topology.NUM_LANDMARKS}, 2|3), got {lm.shape}"
        )
    if not isinstance(supersample, int | np.integer) or isinstance(supersample, bool) or not 1 <= supersample <= 8:
        raise ValueError(f"supersample must be an integer from 1 to 8, got {supersample!r}")
    if supersample > 1:
        k = int(supersample)
        big_bg = None
        if background is not None:
            if np.shape(background)[-3:] != (height, width, 3):
                raise ValueError(f"background must be ({height}, {width}, 3) or (F, {height}, {width}, 3)")
            big_bg = np.asarray(background).repeat(k, axis=-3).repeat(k, axis=-2)
        big = draw_condition(lm[..., :2] * k, height * k, width * k, big_bg)
        frames = big.reshape(-1, height * k, width * k, 3)
        small = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])
        return small.reshape(big.shape[:-3] + (height, width, 3))
    single = lm.ndim == 2
    lm = lm[None] if single else lm
    F = lm.shape[0]
    canvas = np.empty((F, height + 2 * _GAP, width, 3), dtype=np.uint8)
    out = canvas[:, _GAP : _GAP + height]
    if background is not None:
        bg = np.asarray(background)
        if bg.dtype != np.uint8 or bg.shape[-3:] != (height, width, 3) or bg.ndim not in (3, 4):
            raise ValueError(
                f"background must be uint8 with shape ({height}, {width}, 3) or "
                f"(F, {height}, {width}, 3), got {bg.dtype} {bg.shape}"
            )
        out[:] = bg
    px, valid = landmarks_to_pixels(lm, height, width)

    def fill_and_tessellate(frames: slice) -> None:
        if background is None:
            canvas[frames].fill(255)
        # Tessellation, 1 px, in one compiled loop.
        draw_lines_1px(out[frames], px[frames], valid[frames], topology.TESSELATION, _TESSELATION_COLOR)

    # The compiled loop releases the GIL, so frame chunks draw in parallel.
    bounds = np.linspace(0, F, min(F, _WORKERS) + 1).astype(int)
    chunks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    list(_pool().map(fill_and_tessellate, chunks)) if len(chunks) > 1 else fill_and_tessellate(chunks[0])

    # Contours and irises, 2 px: OpenCV's own thick-line shape, one call per colour run.
    tall = canvas.reshape(-1, width, 3)
    row0 = _GAP + np.arange(F) * (height + 2 * _GAP)  # first row of each frame in the tall canvas
    segs = np.ascontiguousarray(px[:, _THICK_EDGES], dtype=np.int32)  # (F, E, 2, 2)
    segs[..., 1] += row0[:, None, None].astype(np.int32)
    ok = valid[:, _THICK_EDGES].all(-1)
    all_ok = ok.all()
    for a, b, color in _THICK_RUNS:
        run = segs[:, a:b].reshape(-1, 2, 2) if all_ok else segs[:, a:b][ok[:, a:b]]
        if len(run):
            cv2.polylines(tall, list(run), False, color, topology.STROKE_WIDTH)
    return out[0] if single else out


def draw_condition_mediapipe(landmarks, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """The official drawing, kept as the reference :func:`draw_condition` reproduces pixel for pixel.

    As the official ``mediapipe_utils.py``: MediaPipe's ``drawing_utils`` on a white RGB canvas,
    the tessellation, contour and iris styles in that order, no landmark dots. A Python loop over
    the edges of one frame (milliseconds a frame): the tests and ``benchmarks/bench_condition.py``
    compare against it. landmarks: (478, 2|3) pixels (x right, y down). Returns (H, W, 3) uint8.
    """
    lms = landmark_pb2.NormalizedLandmarkList()
    for x, y in np.asarray(landmarks, dtype=np.float64)[:, :2]:
        lms.landmark.add(x=x / width, y=y / height)
    img = np.full((height, width, 3), 255, np.uint8)
    for connections, style in (
        (fmc.FACEMESH_TESSELATION, drawing_styles.get_default_face_mesh_tesselation_style()),
        (fmc.FACEMESH_CONTOURS, drawing_styles.get_default_face_mesh_contours_style()),
        (fmc.FACEMESH_IRISES, drawing_styles.get_default_face_mesh_iris_connections_style()),
    ):
        drawing_utils.draw_landmarks(img, lms, connections, None, style)
    return img


def condition_video(
    trajectory: Trajectory, points3d: np.ndarray | None = None, height: int = HEIGHT, width: int = WIDTH
) -> np.ndarray:
    """The analytic condition path: project 3D landmarks along a trajectory and draw them.

    points3d: (478, 3) landmarks in the proxy world; defaults to the generic head template.
    Returns (F, H, W, 3) uint8.
    """
    if points3d is None:
        from facecam_kit.face.template import load_template

        points3d = load_template()
    return draw_condition(trajectory.cameras().project(points3d, height, width), height, width)


def orbit_condition_preview(
    azimuth_start: float = 0.0,
    azimuth_end: float = 0.0,
    elevation_start: float = 0.0,
    elevation_end: float = 0.0,
    fov_start: float = 40.0,
    fov_end: float = 40.0,
    num_frames: int = NUM_FRAMES,
    height: int = HEIGHT,
    width: int = WIDTH,
) -> np.ndarray:
    """The trajectory sliders' callback: all condition frames for an orbit, (F, H, W, 3) uint8.

    Out-of-range values raise ``ValueError`` naming the slider.
    """
    traj = OrbitTrajectory(
        (azimuth_start, azimuth_end), (elevation_start, elevation_end), (fov_start, fov_end), num_frames
    )
    return condition_video(traj, height=height, width=width)
