"""A generic 3D head: the 478 face-mesh landmarks in the proxy-head world.

How the template is derived (:func:`derive_template`, run once by ``make-samples`` on the
bundled sample portrait, stored in ``data_samples/head_template.npy``):

1. MediaPipe FaceMesh on the photo gives 478 points ``(x, y, z)`` in pixel units: x right,
   y down, z away from the camera (a weak-perspective 3D shape).
2. MediaPipe again on the mirrored photo, mirrored back, gives every landmark's *mirror
   partner* (an optimal assignment between the two point sets): the face's left-right pairing.
3. The reflection that best maps the shape onto its mirrored self (orthogonal Procrustes with
   determinant -1) has the face's symmetry plane as its mirror; its normal is the head's
   left-right axis. The forehead-to-chin direction in that plane is "down", which removes the
   photo's head turn and tilt.
4. Each point is averaged with its partner's reflection, so the template is exactly symmetric.
5. Scaled so that forehead (10) to chin (152) is :data:`FACE_HEIGHT` units, and moved into the
   proxy world (+Z up, the face looking towards -Y). The origin (the orbit centre) is on the
   symmetry plane, halfway between forehead and chin in height, and at the depth of the cheek
   landmarks 234/454, roughly the centre of the head.

Taught in notebook 02; the generic head of notebooks 03-07.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from facecam_kit.face import topology

#: Forehead-to-chin distance in proxy units: at the official radius 2.7 and a 40 degree field of
#: view the face then spans ~36% of the rendered square, as in FaceCam's condition frames.
FACE_HEIGHT = 0.7


def mirror_pairs(points: np.ndarray, mirrored_points: np.ndarray) -> np.ndarray:
    """Left-right partner of each landmark.

    points: (N, 3) landmarks of a face; mirrored_points: (N, 3) landmarks detected on the mirrored
    image and mirrored back. Returns pair (N,) int with ``points[pair[i]] ~ mirrored_points[i]``.
    """
    d = np.linalg.norm(mirrored_points[:, None, :] - points[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(d)
    pair = np.empty(len(points), dtype=np.int64)
    pair[rows] = cols
    return pair


def symmetry_frame(points: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) whose rows are the face's right, down and forward axes.

    points: (N, 3) in an image-aligned frame (x right, y down, z away from the camera).
    """
    c = points - points.mean(0)
    U, _, Vt = np.linalg.svd(c.T @ c[pair])
    H = U @ np.diag([1.0, 1.0, -np.linalg.det(U @ Vt)]) @ Vt  # best reflection: c[pair] -> c
    w, v = np.linalg.eigh((H + H.T) / 2)
    right = v[:, np.argmin(w)]
    if right @ (c[topology.CHEEK_LEFT] - c[topology.CHEEK_RIGHT]) < 0:
        right = -right
    down = c[topology.CHIN] - c[topology.FOREHEAD]
    down = down - (down @ right) * right
    down /= np.linalg.norm(down)
    return np.stack([right, down, np.cross(right, down)])


def head_frame_to_world(p: np.ndarray) -> np.ndarray:
    """Image-aligned head frame (x right, y down, z into the head) -> proxy world (+Z up, face -Y)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)


def derive_template(image: np.ndarray) -> np.ndarray:
    """Derive the generic head's 3D landmarks from one frontal-ish portrait (H, W, 3) uint8 RGB.

    Returns (478, 3) float64 in the proxy world. See the module docstring for the steps.
    """
    from facecam_kit.face.landmarks import LandmarkDetector

    w = image.shape[1]
    with LandmarkDetector() as det:
        p = det.detect(image, "template photo")
        q = det.detect(np.ascontiguousarray(image[:, ::-1]), "mirrored template photo")
    q[:, 0] = w - q[:, 0]
    pair = mirror_pairs(p, q)
    aligned = (p - p.mean(0)) @ symmetry_frame(p, pair).T
    sym = (aligned + aligned[pair] * np.array([-1.0, 1.0, 1.0])) / 2
    sym *= FACE_HEIGHT / np.linalg.norm(sym[topology.FOREHEAD] - sym[topology.CHIN])
    origin = np.array(
        [
            0.0,
            (sym[topology.FOREHEAD, 1] + sym[topology.CHIN, 1]) / 2,
            (sym[topology.CHEEK_LEFT, 2] + sym[topology.CHEEK_RIGHT, 2]) / 2,
        ]
    )
    return head_frame_to_world(sym - origin)


def load_template() -> np.ndarray:
    """The generic head's landmarks, (478, 3) float64 in the proxy world (cached)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from facecam_kit.assets import data_path

        _TEMPLATE = np.load(data_path("head_template.npy"))
        _TEMPLATE.flags.writeable = False
    return _TEMPLATE


_TEMPLATE: np.ndarray | None = None
