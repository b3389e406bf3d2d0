"""Where MediaPipe sees a proxy head's landmarks, from any view: the analytic path, calibrated.

The official condition path draws what MediaPipe *detects* on renders of the proxy head; the
analytic path draws where the head's 3D landmarks *project*. On a synthetic head the two differ
by the detector's bias, in two parts:

* a part that is the same from every view (MediaPipe puts the nose tip or the chin a little off
  our mesh points): triangulating the detections of many known views gives 3D points that
  remove it (:attr:`LandmarkCalibration.points`);
* a part that changes with the view: the jaw line follows the silhouette, which slides over the
  skin as the head turns, and the detector's placement also shifts with the size of the face in
  the frame (the field of view). :attr:`LandmarkCalibration.offsets` tabulates what is left on
  a grid of azimuth x elevation x field of view, and :meth:`LandmarkCalibration.project`
  interpolates it (trilinear) for any camera.

Offsets are stored in camera-plane units at each landmark's depth (``pixels * z / f``), so one
table serves any resolution and follows the face's size in the frame.

Taught in notebook 05, section 2.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from facecam_kit.face.topology import NUM_LANDMARKS
from facecam_kit.geometry.camera import CameraPath, orbit_angles, orbit_cameras, world_to_camera
from facecam_kit.geometry.pnp import triangulate_views
from facecam_kit.proxy.head import render_and_detect
from facecam_kit.spec import HEIGHT, WIDTH

# the official random-trajectory ranges, every 15 degrees, at three fields of view
AZIMUTHS = np.linspace(-45, 45, 7)
ELEVATIONS = np.linspace(-30, 30, 5)
HFOVS = np.array([25.0, 40.0, 55.0])


@dataclass(frozen=True)
class LandmarkCalibration:
    """A head's landmarks as MediaPipe sees them.

    points: (478, 3) world, triangulated from every calibration view; azimuth (A,), elevation
    (E,), hfov (V,): the grid in degrees (increasing); offsets: (A, E, V, 478, 2) detected minus
    projected ``points``, in camera-plane units (pixels * depth / focal length).
    """

    points: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    hfov: np.ndarray
    offsets: np.ndarray

    def project(self, cameras: CameraPath, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
        """Where MediaPipe would find the landmarks on renders from ``cameras``: (F, 478, 2) pixels.

        A view is looked up by its direction from the head (azimuth, elevation on the proxy orbit)
        and its fov, so cameras that do not aim at the head get the table of the orbit camera in
        that direction; views outside the grid take the offsets of its nearest edge.
        """
        az, el = orbit_angles(cameras.centers)
        offset = np.zeros((len(cameras), NUM_LANDMARKS, 2))
        grid = (self.azimuth, self.elevation, self.hfov)
        brackets = [_bracket(g, x) for g, x in zip(grid, (az, el, cameras.hfov_deg))]
        for corner in itertools.product((0, 1), repeat=3):
            index = tuple(np.minimum(i + c, len(g) - 1) for (i, _), c, g in zip(brackets, corner, grid))
            weight = np.prod([w if c else 1 - w for (_, w), c in zip(brackets, corner)], 0)
            offset += weight[:, None, None] * self.offsets[index]
        return cameras.project(self.points, height, width) + offset * _pixels_per_unit(
            cameras, self.points, height, width
        )


def _pixels_per_unit(cameras: CameraPath, points: np.ndarray, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Pixels per world unit in the camera plane at each point's depth: focal / depth, (F, N, 2)."""
    focal = cameras.intrinsics(height, width)[:, None, [0, 1], [0, 1]]
    return focal / world_to_camera(points, cameras.R, cameras.t)[..., 2:]


def _bracket(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower grid index (F,) and the weight of the upper neighbour (F,), clamped to the grid."""
    if len(grid) == 1:
        return np.zeros(len(x), int), np.zeros(len(x))
    i = np.clip(np.searchsorted(grid, x) - 1, 0, len(grid) - 2)
    return i, np.clip((x - grid[i]) / (grid[i + 1] - grid[i]), 0, 1)


def calibrate_landmarks(
    head, azimuth=AZIMUTHS, elevation=ELEVATIONS, hfov=HFOVS, backend: str = "auto", progress: bool = True
) -> LandmarkCalibration:
    """Render ``head`` (a ProxyHead) from every view of the grid, detect, and fit a
    :class:`LandmarkCalibration`. azimuth, elevation, hfov: increasing grid values in degrees.

    Grid views where MediaPipe finds no face take the mean offsets of the same direction at the
    other fields of view (zero if none). The default grid is 105 renders.
    """
    axes = [np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (azimuth, elevation, hfov)]
    for name, a in zip(("azimuth", "elevation", "hfov"), axes):
        if np.any(np.diff(a) <= 0):
            raise ValueError(f"calibration {name} grid must be increasing, got {a}")
    shape = tuple(len(a) for a in axes)
    cameras = orbit_cameras(*(g.ravel() for g in np.meshgrid(*axes, indexing="ij")))
    _, detected = render_and_detect(head, cameras, backend=backend, allow_missing=True, progress=progress)
    uv = detected[..., :2]
    seen = np.isfinite(uv[:, 0, 0])
    if seen.sum() < 2:
        raise ValueError(
            f"MediaPipe found the face in {seen.sum()} of {len(cameras)} calibration views; "
            f"need at least 2: narrow the grid towards the frontal view"
        )
    points = triangulate_views(uv, cameras.projection_matrices())
    offsets = (uv - cameras.project(points)) / _pixels_per_unit(cameras, points)
    offsets = offsets.reshape(shape + (NUM_LANDMARKS, 2))
    ok = seen.reshape(shape)[..., None, None]
    fill = np.where(ok, offsets, 0).sum(2, keepdims=True) / np.maximum(ok.sum(2, keepdims=True), 1)
    offsets = np.where(ok, offsets, fill)
    return LandmarkCalibration(points, *axes, offsets)
