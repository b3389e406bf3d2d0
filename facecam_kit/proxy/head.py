"""The proxy head: a 3D Gaussian head that FaceCam renders along the target trajectory.

FaceCam renders a generic Gaussian head (FaceLift's, shared by all videos) along the trajectory
and runs MediaPipe on every frame to get the condition landmarks. This module makes such heads
with our own code:

* the face: Gaussians sampled over the triangles of the face mesh spanned by the head's 3D
  landmarks, each bound to its triangle by barycentric coordinates, so the face follows when the
  landmarks move (:func:`personalise`);
* the rest: Gaussians on ellipsoids for the skull and hair, a cylinder for the neck and a
  flattened ellipsoid for the shoulders, enough that the renders read as a head.

Face colours come from an image through its 2D landmarks (piecewise-affine over the mesh
triangles): a real photo gives a head that looks like that person (:func:`textured_proxy_head`);
the generic head uses a painted face (skin, eyes, irises, brows, lips) so MediaPipe finds a face.

Taught in notebook 05 (the proxy head).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from facecam_kit.face import topology
from facecam_kit.face.template import load_template
from facecam_kit.proxy.gaussians import Gaussians
from facecam_kit.spec import HEIGHT, WIDTH

FACE_SIGMA = 0.007
SKIN = (0.86, 0.66, 0.55)
HAIR = (0.25, 0.17, 0.12)
SHIRT = (0.20, 0.28, 0.45)


@dataclass
class ProxyHead:
    """A Gaussian head with its 3D landmarks.

    gaussians: all Gaussians; landmarks (478, 3) world; face_triangle (M,) and face_bary (M, 3):
    the first M Gaussians lie on the face mesh; is_head (N,) bool: moves with the head (False for
    the shoulders).
    """

    gaussians: Gaussians
    landmarks: np.ndarray
    face_triangle: np.ndarray
    face_bary: np.ndarray
    is_head: np.ndarray

    def posed(self, R: np.ndarray, t: np.ndarray) -> Gaussians:
        """The Gaussians with the head part moved rigidly by ``x -> R x + t`` (shoulders stay)."""
        g = self.gaussians
        moved = g.transformed(R, t)
        keep = self.is_head[:, None]
        return Gaussians(
            np.where(keep, moved.means, g.means), g.scales, np.where(keep, moved.quats, g.quats), g.opacities, g.colors
        )


def _sample_triangles(vertices: np.ndarray, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted uniform samples on the mesh: triangle index (n,) and barycentrics (n, 3)."""
    tri = vertices[topology.TRIANGLES]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    idx = rng.choice(len(area), n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    return idx, np.stack([1 - s, s * (1 - r2), s * r2], 1)


def _on_face(vertices: np.ndarray, triangle: np.ndarray, bary: np.ndarray) -> np.ndarray:
    return np.einsum("nk,nkd->nd", bary, vertices[topology.TRIANGLES[triangle]])


def _sample_ellipsoid(center, radii, n: int, rng) -> np.ndarray:
    d = rng.normal(size=(n, 3))
    return np.asarray(center) + np.asarray(radii) * d / np.linalg.norm(d, axis=1, keepdims=True)


def _sample_from_image(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear colours (N, 3) in [0, 1] of an (H, W, 3) uint8 image at pixel positions (N, 2)."""
    m = cv2.remap(
        image,
        uv[:, 0].astype(np.float32) - 0.5,
        uv[:, 1].astype(np.float32) - 0.5,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return m.reshape(-1, 3).astype(np.float64) / 255.0


def paint_generic_face(landmarks2d: np.ndarray, height: int, width: int, skin=SKIN) -> np.ndarray:
    """A painted face texture: skin, white eyes, dark irises, brows and red lips, drawn over the
    2D landmarks (478, 2) on an (H, W, 3) uint8 canvas."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = np.round(np.asarray(skin) * 255).astype(np.uint8)
    fill = lambda idx, col: cv2.fillConvexPoly(img, cv2.convexHull(landmarks2d[idx].astype(np.int32)), col, cv2.LINE_AA)
    fill(topology.region("LIPS"), (170, 70, 75))
    for side in ("LEFT", "RIGHT"):
        fill(topology.region(f"{side}_EYEBROW"), (70, 45, 35))
        fill(topology.region(f"{side}_EYE"), (240, 240, 235))
        ring = topology.region(f"{side}_IRIS")
        centre = landmarks2d[ring].mean(0)
        radius = np.linalg.norm(landmarks2d[ring] - centre, axis=1).mean()
        cv2.circle(img, tuple(int(v) for v in centre), max(1, int(round(radius))), (60, 40, 30), -1, cv2.LINE_AA)
    return img


def make_proxy_head(
    landmarks: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    texture_landmarks: np.ndarray | None = None,
    skin=SKIN,
    hair=HAIR,
    shirt=SHIRT,
    density: float = 1.0,
    seed: int = 0,
) -> ProxyHead:
    """Build a Gaussian head around 3D landmarks (478, 3) (default: the generic template).

    texture, texture_landmarks: an (H, W, 3) uint8 image and its (478, 2) pixel landmarks to colour
    the face; default: :func:`paint_generic_face`. ``density`` scales the number of Gaussians.
    """
    rng = np.random.default_rng(seed)
    L = load_template() if landmarks is None else np.asarray(landmarks, dtype=np.float64)
    if L.shape != (topology.NUM_LANDMARKS, 3):
        raise ValueError(f"landmarks must have shape (478, 3), got {L.shape}")
    if texture is None:  # paint on the frontal orthographic view (x right, z up)
        size = 512
        texture_landmarks = (L[:, [0, 2]] * [1, -1] + [0.5, 0.5]) * size
        texture = paint_generic_face(texture_landmarks, size, size, skin)
    elif texture_landmarks is None or np.shape(texture_landmarks)[0] != topology.NUM_LANDMARKS:
        raise ValueError("a texture needs its (478, 2) pixel landmarks (texture_landmarks)")

    n = lambda k: max(1, int(k * density))
    tri, bary = _sample_triangles(L, n(10000), rng)
    face = _on_face(L, tri, bary)
    face_uv = _on_face(np.asarray(texture_landmarks, dtype=np.float64)[:, :2], tri, bary)
    face_col = _sample_from_image(texture, face_uv)

    # skull and hair: an ellipsoid around the face, minus what lies in front of the face oval
    height = np.ptp(L[:, 2])
    width = np.ptp(L[:, 0])
    skull = _sample_ellipsoid(
        [0, 0.1 * height, 0.12 * height], [0.53 * width, 0.6 * height, 0.63 * height], n(2500), rng
    )
    oval = cv2.convexHull((L[topology.region("FACE_OVAL")][:, [0, 2]] * 1000).astype(np.int32))
    inside = np.array(
        [cv2.pointPolygonTest(oval, (float(x * 1000), float(z * 1000)), False) >= 0 for x, z in skull[:, [0, 2]]]
    )
    skull = skull[~(inside & (skull[:, 1] < 0.5 * height))]  # hidden behind the face anyway
    is_hair = (skull[:, 2] > 0.25 * height) | (skull[:, 1] > 0.15 * height)
    skull_col = np.where(is_hair[:, None], hair, skin)

    # neck (a cylinder) and shoulders (the top of a flattened ellipsoid)
    k = n(500)
    a = rng.uniform(0, 2 * np.pi, k)
    neck = np.stack(
        [
            0.26 * width * np.cos(a),
            0.12 * height + 0.22 * height * np.sin(a),
            rng.uniform(-1.05 * height, -0.35 * height, k),
        ],
        1,
    )
    shoulders = _sample_ellipsoid(
        [0, 0.15 * height, -1.45 * height], [1.25 * width, 0.45 * height, 0.5 * height], n(2000), rng
    )
    shoulders = shoulders[shoulders[:, 2] > -1.6 * height]

    sig = FACE_SIGMA * width / 0.59  # scales with the head (0.59: the template's face width)
    means = np.concatenate([face, skull, neck, shoulders])
    sigma = np.concatenate(
        [
            np.full(len(face), 0.8 * sig),
            np.full(len(skull), 2.8 * sig),
            np.full(len(neck), 3.0 * sig),
            np.full(len(shoulders), 4.5 * sig),
        ]
    )
    colors = np.concatenate(
        [face_col, skull_col, np.tile(np.asarray(skin) * 0.92, (len(neck), 1)), np.tile(shirt, (len(shoulders), 1))]
    )
    g = Gaussians(
        means,
        np.repeat(sigma[:, None], 3, 1),
        np.tile([1.0, 0, 0, 0], (len(means), 1)),
        np.full(len(means), 0.9),
        colors,
    )
    is_head = np.r_[np.ones(len(face) + len(skull) + len(neck), bool), np.zeros(len(shoulders), bool)]
    return ProxyHead(g, L.copy(), tri, bary, is_head)


def textured_proxy_head(
    image: np.ndarray, landmarks2d: np.ndarray, landmarks3d: np.ndarray | None = None, seed: int = 0
) -> ProxyHead:
    """A head that looks like the person in ``image``: face colours sampled through its detected
    landmarks (478, 2|3 pixels); hair, skin and clothing colours sampled above and below the face."""
    lm = np.asarray(landmarks2d, dtype=np.float64)[:, :2]
    top, chin = lm[topology.FOREHEAD], lm[topology.CHIN]
    pick = lambda p: _sample_from_image(image, np.clip(p, 0, np.array(image.shape[1::-1]) - 1)[None])[0]
    cheeks = lm[[topology.CHEEK_LEFT, topology.CHEEK_RIGHT]] * 0.8 + lm[topology.NOSE_TIP] * 0.2
    skin = _sample_from_image(image, cheeks).mean(0)
    hair = pick(top + 0.12 * (top - chin))  # just above the forehead
    shirt = pick(chin + 0.9 * (chin - top))  # a face height below the chin
    return make_proxy_head(landmarks3d, image, lm, skin=skin, hair=hair, shirt=shirt, seed=seed)


def similarity_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Umeyama: the similarity ``s R x + t`` that best maps source (N, 3) onto target (N, 3),
    applied to source. Returns (N, 3)."""
    ms, mt = source.mean(0), target.mean(0)
    S, T = source - ms, target - mt
    U, D, Vt = np.linalg.svd(T.T @ S)
    d = np.sign(np.linalg.det(U @ Vt))
    R = U @ np.diag([1, 1, d]) @ Vt
    s = (D * [1, 1, d]).sum() / (S**2).sum()
    return s * S @ R.T + mt


def personalised_landmarks(detected: np.ndarray, template: np.ndarray | None = None) -> np.ndarray:
    """Fit the template's shape to MediaPipe's 3D landmarks of a person's video.

    detected: (F, 478, 3) MediaPipe landmarks in pixel units (x right, y down, z away from the
    camera), one face per frame. Each frame is moved into the proxy world and aligned to the
    template by a similarity (removing pose and scale, which a monocular video cannot fix);
    the average of the aligned frames is the person's shape. Returns (478, 3).
    """
    from facecam_kit.face.template import head_frame_to_world

    template = load_template() if template is None else template
    detected = np.asarray(detected, dtype=np.float64)
    if detected.ndim == 2:
        detected = detected[None]
    if detected.shape[1:] != (topology.NUM_LANDMARKS, 3):
        raise ValueError(f"detected landmarks must have shape (F, 478, 3), got {detected.shape}")
    aligned = [similarity_align(head_frame_to_world(f), template) for f in detected]
    return np.mean(aligned, 0)


def personalise(head: ProxyHead, landmarks: np.ndarray, neighbours: int = 12) -> ProxyHead:
    """Deform a proxy head onto new 3D landmarks (478, 3): face Gaussians follow their triangles;
    the others move with an inverse-distance blend of the nearest landmarks' displacements."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    g = head.gaussians
    m = len(head.face_triangle)
    face = _on_face(landmarks, head.face_triangle, head.face_bary)
    rest = g.means[m:]
    disp = landmarks - head.landmarks
    d = np.linalg.norm(rest[:, None] - head.landmarks[None], axis=-1)
    near = np.argsort(d, axis=1)[:, :neighbours]
    w = 1.0 / (np.take_along_axis(d, near, 1) + 1e-3) ** 2
    rest = rest + np.einsum("nk,nkd->nd", w / w.sum(1, keepdims=True), disp[near])
    moved = Gaussians(np.concatenate([face, rest]), g.scales, g.quats, g.opacities, g.colors)
    return replace(head, gaussians=moved, landmarks=landmarks.copy())


def proxy_condition_video(
    head: ProxyHead | Gaussians,
    trajectory,
    height: int = HEIGHT,
    width: int = WIDTH,
    backend: str = "auto",
    allow_missing: bool = False,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official inference path: render the proxy head along the trajectory, run MediaPipe on
    every (padded) render, draw the detected landmarks.

    Returns the condition video (F, H, W, 3) uint8, the renders (F, H, W, 3) uint8 and the
    detected landmarks (F, 478, 3) (NaN rows for missed frames when ``allow_missing``; otherwise a
    frame without a detected face raises NoFaceDetected, as the official code does).
    """
    from facecam_kit.face.condition import draw_condition

    renders, detected = render_and_detect(head, trajectory.cameras(), height, width, backend, allow_missing, progress)
    return draw_condition(detected, height, width), renders, detected


def render_and_detect(
    head: ProxyHead | Gaussians,
    cameras,
    height: int = HEIGHT,
    width: int = WIDTH,
    backend: str = "auto",
    allow_missing: bool = False,
    progress: bool = True,
):
    """Render the head from a CameraPath (official padding) and run MediaPipe on every render.

    Returns renders (F, H, W, 3) uint8 and detected landmarks (F, 478, 3) (NaN rows for missed
    frames when ``allow_missing``).
    """
    from facecam_kit.face.landmarks import detect_landmarks_video
    from facecam_kit.proxy.rasterise import render_video

    g = head.gaussians if isinstance(head, ProxyHead) else head
    renders = render_video(g, cameras, height, width, backend, progress)
    return renders, detect_landmarks_video(renders, "the proxy-head render", progress, allow_missing)
