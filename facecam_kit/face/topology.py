"""The MediaPipe face-mesh topology: 478 landmarks (468 mesh + 10 iris) and their edges.

Edges are kept in the iteration order of MediaPipe's frozensets, the order the official
condition drawing uses, so overlapping strokes land the same way.

Drawn in notebook 03 (landmark camera conditions).
"""

from __future__ import annotations

import numpy as np
from mediapipe.python.solutions import drawing_styles as _styles
from mediapipe.python.solutions import face_mesh_connections as _fmc

NUM_LANDMARKS = 478
NOSE_TIP = 4  # the official crop centres on this landmark
FOREHEAD = 10
CHIN = 152
CHEEK_RIGHT = 234  # face oval at cheek level, image left in a frontal view (the person's right)
CHEEK_LEFT = 454

TESSELATION = np.array(list(_fmc.FACEMESH_TESSELATION), dtype=np.int64)  # (2556, 2)
CONTOURS = np.array(list(_fmc.FACEMESH_CONTOURS), dtype=np.int64)  # (124, 2)
IRISES = np.array(list(_fmc.FACEMESH_IRISES), dtype=np.int64)  # (8, 2)

# MediaPipe's default face-mesh styles. Their colours are meant as BGR, but the official
# FaceCam draws them on an RGB canvas, so "red" (48, 48, 255) shows up blue. We keep the
# tuples verbatim to reproduce that.
TESSELATION_STYLE = ((128, 128, 128), 1)
_contour_spec = _styles.get_default_face_mesh_contours_style()
_iris_spec = _styles.get_default_face_mesh_iris_connections_style()
CONTOUR_COLORS = np.array([_contour_spec[tuple(e)].color for e in CONTOURS.tolist()], dtype=np.uint8)
IRIS_COLORS = np.array([_iris_spec[tuple(e)].color for e in IRISES.tolist()], dtype=np.uint8)
STROKE_WIDTH = 2  # contours and irises


def _triangles(edges: np.ndarray) -> np.ndarray:
    """Triangles of a triangulated mesh: the 3-cliques of its edge graph, (T, 3) sorted rows."""
    neighbours: dict[int, set[int]] = {}
    for a, b in edges.tolist():
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in edges.tolist() for c in neighbours[a] & neighbours[b]}
    return np.array(sorted(tris), dtype=np.int64)


TRIANGLES = _triangles(TESSELATION)  # (854, 3) faces of the 468-point mesh


def region(name: str) -> np.ndarray:
    """Landmark indices of a MediaPipe region: "LIPS", "LEFT_EYE", "RIGHT_EYEBROW", "FACE_OVAL", ..."""
    edges = getattr(_fmc, f"FACEMESH_{name}", None)
    if edges is None:
        raise ValueError(f"unknown face-mesh region {name!r}")
    return np.unique(np.array(list(edges), dtype=np.int64))
