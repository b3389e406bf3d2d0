"""ReCapture's geometric anchor video: lift a source frame to 3D with a depth map, re-project it
into each target camera, and keep a mask of the pixels that received a point.

Depth comes from what the kit has offline (no depth network):

* the face: the face mesh posed by PnP on the frame's MediaPipe landmarks, rasterised per
  triangle (dense over the face);
* the eyes and mouth (holes in the mesh): the nearest face depth;
* the rest of the head: the posed proxy head's skull, hair and neck Gaussians, splatted;
* everything else: a plane behind the head, facing the source camera.

Points are forward-warped with a z-buffer (the nearest point wins each target pixel, in a
compiled loop). Holes and
disocclusions stay holes: the mask says where the anchor is valid, and nothing is filled in.

Taught in notebook 07 (anchor videos against studio ground truth).
"""

from __future__ import annotations

import functools

import cv2
import numba
import numpy as np

from facecam_kit.face import topology
from facecam_kit.geometry.camera import CameraPath, intrinsics_from_fov, project_points
from facecam_kit.spec import HEIGHT, WIDTH

BACKGROUND_OFFSET = 1.0  # the background plane lies this far (proxy units) behind the head centre


def rasterise_depth(
    vertices_cam: np.ndarray, K: np.ndarray, height: int, width: int, triangles: np.ndarray = topology.TRIANGLES
) -> np.ndarray:
    """Depth (H, W) of a triangle mesh in camera coordinates (V, 3); +inf where it is absent.

    Perspective-correct: 1/z is interpolated linearly across each triangle in the image.
    """
    depth = np.full((height, width), np.inf)
    uv = project_points(vertices_cam, np.eye(3), np.zeros(3), K)
    inv_z = 1.0 / vertices_cam[:, 2]
    for tri in triangles:
        p = uv[tri]
        if not np.isfinite(p).all():
            continue
        x0, y0 = np.maximum(np.floor(p.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(p.max(0)).astype(int), [width - 1, height - 1])
        if x1 < x0 or y1 < y0:
            continue
        ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
        q = np.stack([xs + 0.5, ys + 0.5], -1)
        T = np.array([p[1] - p[0], p[2] - p[0]]).T
        if abs(np.linalg.det(T)) < 1e-9:
            continue
        b12 = (q - p[0]) @ np.linalg.inv(T).T
        bary = np.concatenate([1 - b12.sum(-1, keepdims=True), b12], -1)
        inside = (bary >= -1e-9).all(-1)
        z = 1.0 / (bary @ inv_z[tri])
        patch = depth[y0 : y1 + 1, x0 : x1 + 1]
        np.minimum(patch, np.where(inside, z, np.inf), out=patch)
    return depth


def splat_depth(points_cam: np.ndarray, K: np.ndarray, height: int, width: int, radius: int = 2) -> np.ndarray:
    """Depth (H, W) of points (N, 3) in camera coordinates drawn as (2r+1)^2 squares; +inf elsewhere."""
    depth = np.full(height * width, np.inf)
    front = points_cam[:, 2] > 1e-6
    uv = np.floor(project_points(points_cam[front], np.eye(3), np.zeros(3), K)).astype(int)
    z = points_cam[front, 2]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            x, y = uv[:, 0] + dx, uv[:, 1] + dy
            ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            np.minimum.at(depth, y[ok] * width + x[ok], z[ok])
    return depth.reshape(height, width)


def head_depth(
    R: np.ndarray,
    t: np.ndarray,
    K: np.ndarray,
    height: int,
    width: int,
    landmarks: np.ndarray,
    head_points: np.ndarray | None = None,
) -> np.ndarray:
    """Depth (H, W) of a source frame: face mesh, then proxy-head points, then the background plane.

    R, t: the source camera (world-to-camera) in the proxy world, e.g. from PnP of the landmarks;
    landmarks: (478, 3) the head's 3D landmarks; head_points: (N, 3) optional proxy-head Gaussian
    means for hair, neck and shoulders.
    """
    from scipy import ndimage

    depth = rasterise_depth(landmarks @ R.T + t, K, height, width)
    # the mesh has no triangles over the eyes and the mouth: fill those from the nearest face pixel
    hull = np.zeros((height, width), np.uint8)
    oval = project_points(landmarks[topology.region("FACE_OVAL")], R, t, K)
    cv2.fillConvexPoly(hull, cv2.convexHull(oval.astype(np.int32)), 1)
    nearest = ndimage.distance_transform_edt(~np.isfinite(depth), return_distances=False, return_indices=True)
    depth = np.where(hull.astype(bool) & ~np.isfinite(depth), depth[tuple(nearest)], depth)
    if head_points is not None:  # close the gaps between the splats with a 5 x 5 minimum
        splats = ndimage.minimum_filter(splat_depth(head_points @ R.T + t, K, height, width), size=5)
        depth = np.minimum(depth, splats)
    plane = t[2] + BACKGROUND_OFFSET  # the head centre (world origin) is at camera depth t_z
    return np.where(np.isfinite(depth), depth, plane)


@numba.njit(cache=True, nogil=True)
def _zbuffer_splat(world, colors, R, t, K, image, mask, zbuf, width, height):  # pragma: no cover - compiled
    """Project world points (N, 3) with R, t, K; the nearest point wins each pixel.

    image: (H*W, 3) uint8, mask: (H*W,) bool, zbuf: (H*W,) float, all written in place.
    """
    for n in range(world.shape[0]):
        X, Y, Z = world[n, 0], world[n, 1], world[n, 2]
        z = R[2, 0] * X + R[2, 1] * Y + R[2, 2] * Z + t[2]
        if not z > 1e-6:
            continue
        xc = R[0, 0] * X + R[0, 1] * Y + R[0, 2] * Z + t[0]
        yc = R[1, 0] * X + R[1, 1] * Y + R[1, 2] * Z + t[1]
        x = int(np.floor(K[0, 0] * xc / z + K[0, 2]))
        y = int(np.floor(K[1, 1] * yc / z + K[1, 2]))
        if x < 0 or x >= width or y < 0 or y >= height:
            continue
        p = y * width + x
        if z < zbuf[p]:
            zbuf[p] = z
            image[p, 0], image[p, 1], image[p, 2] = colors[n, 0], colors[n, 1], colors[n, 2]
            mask[p] = True


def anchor_video(
    image: np.ndarray,
    depth: np.ndarray,
    K: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    targets: CameraPath,
    height: int = HEIGHT,
    width: int = WIDTH,
    target_K: np.ndarray | None = None,
    supersample: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-warp one source frame into every target camera.

    image: (h, w, 3) uint8; depth: (h, w) camera-z depth; K, R, t: the source camera. targets:
    the target cameras, with intrinsics ``target_K`` (F, 3, 3) or, by default, the official
    proxy intrinsics on the ``height x width`` canvas (head in the top square). Each source pixel is
    lifted at ``supersample^2`` sub-pixel positions so that magnified views keep fewer cracks.
    Returns frames (F, H, W, 3) uint8 (black where invalid) and the valid mask (F, H, W) bool.
    """
    h, w = depth.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and depth {depth.shape} must have the same size")
    s = supersample
    v, u = (np.mgrid[: h * s, : w * s] + 0.5) / s
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(K).T
    cam_points = rays * np.repeat(np.repeat(depth, s, 0), s, 1).reshape(-1, 1)
    world = (cam_points - t) @ R  # camera -> world: R^T (x - t)
    colors = np.repeat(np.repeat(image, s, 0), s, 1).reshape(-1, 3)
    Kt = targets.intrinsics(height, width) if target_K is None else np.broadcast_to(target_K, (len(targets), 3, 3))
    frames = np.zeros((len(targets), height, width, 3), np.uint8)
    masks = np.zeros((len(targets), height, width), bool)
    zbuf = np.empty(height * width)
    for i in range(len(targets)):
        zbuf.fill(np.inf)
        _zbuffer_splat(
            world,
            colors,
            targets.R[i],
            targets.t[i],
            Kt[i],
            frames[i].reshape(-1, 3),
            masks[i].reshape(-1),
            zbuf,
            width,
            height,
        )
    return frames, masks


@functools.cache
def _generic_head():
    """The generic proxy head at half density (enough for depth), built once per process."""
    from facecam_kit.proxy.head import make_proxy_head

    return make_proxy_head(density=0.5)


def estimate_source(image: np.ndarray, landmarks: np.ndarray, K: np.ndarray):
    """Source camera and depth of one portrait frame, estimated offline.

    The person's 3D landmarks come from MediaPipe (:func:`~facecam_kit.proxy.head.personalised_landmarks`,
    at the proxy's scale), the camera from PnP against them, and the depth from :func:`head_depth`
    with the personalised proxy head. landmarks: (478, 3) MediaPipe pixels. Returns R, t, depth (h, w).
    """
    from facecam_kit.geometry.pnp import solve_pnp
    from facecam_kit.proxy.head import personalise, personalised_landmarks

    h, w = image.shape[:2]
    person = personalised_landmarks(landmarks)
    R, t = solve_pnp(person, np.asarray(landmarks)[:, :2], K)
    head = personalise(_generic_head(), person)
    rest = np.arange(len(head.gaussians)) >= len(head.face_triangle)  # skull, hair, neck; not the shoulders
    return R, t, head_depth(R, t, K, h, w, person, head.gaussians.means[rest & head.is_head])


def photo_anchor_video(
    image: np.ndarray,
    landmarks: np.ndarray,
    targets: CameraPath,
    hfov_deg: float = 30.0,
    height: int = HEIGHT,
    width: int = WIDTH,
):
    """Anchor video of one portrait along target cameras (proxy world), assuming the photo's
    horizontal field of view. Returns frames (F, H, W, 3) uint8, the valid mask (F, H, W) bool
    and the source depth (h, w)."""
    K = intrinsics_from_fov(hfov_deg, image.shape[1], image.shape[0])
    R, t, depth = estimate_source(image, landmarks, K)
    frames, masks = anchor_video(image, depth, K, R, t, targets, height, width)
    return frames, masks, depth


def capture_anchor(capture, frame: int, source: int, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anchor views of a studio capture, to compare with its ground-truth views.

    The source pose and depth are estimated from the source frame alone (MediaPipe, PnP with the
    known intrinsics). The target cameras follow the true motion from the source camera, its
    translation rescaled by the ratio of the estimated to the true camera-to-head distance: a
    monocular estimate has no scale of its own, so evaluation must fix it, as depth benchmarks do.
    capture: a :class:`~facecam_kit.data.studio.Capture`; targets: camera indices (T,).
    Returns anchor frames (T, S, S, 3) uint8, valid masks (T, S, S) bool, ground truth (T, S, S, 3).
    """
    from facecam_kit.face.landmarks import detect_landmarks
    from facecam_kit.geometry.camera import relative_pose

    targets = np.atleast_1d(targets)
    image = capture.videos[source, frame]
    size = image.shape[0]
    lm = detect_landmarks(image, f"camera {source}, frame {frame} of the capture")
    R_e, t_e, depth = estimate_source(image, lm, capture.K[source])
    R_rel, t_rel = relative_pose(capture.R[source], capture.t[source], capture.R[targets], capture.t[targets])
    true_distance = np.linalg.norm(capture.R[source] @ capture.head_pose[frame, :3, 3] + capture.t[source])
    scale = np.linalg.norm(t_e) / true_distance
    cams = CameraPath(R_rel @ R_e, R_rel @ t_e + scale * t_rel, np.full(len(targets), 30.0))
    frames, masks = anchor_video(
        image, depth, capture.K[source], R_e, t_e, cams, size, size, target_K=capture.K[targets]
    )
    return frames, masks, capture.videos[targets, frame]
