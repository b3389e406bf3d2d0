"""Figures: frame montages and plotly 3D views of heads and camera paths.

Used by every notebook.
"""

from __future__ import annotations

import numpy as np

from facecam_kit.geometry.camera import CameraPath
from facecam_kit.spec import HEIGHT, WIDTH


def montage(frames, num: int = 6, cols: int | None = None) -> np.ndarray:
    """``num`` evenly spaced frames of (F, H, W, 3) side by side (in ``cols`` columns): uint8 image."""
    frames = np.asarray(frames)
    idx = np.linspace(0, len(frames) - 1, min(num, len(frames))).round().astype(int)
    cols = cols or len(idx)
    rows = -(-len(idx) // cols)
    h, w = frames.shape[1:3]
    out = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = frames[i]
    return out


def frustum_lines(
    cameras: CameraPath, size: float = 0.25, every: int = 10, height: int = HEIGHT, width: int = WIDTH
) -> np.ndarray:
    """Wireframe of camera frustums as a polyline with NaN breaks, (M, 3) world points.

    Each frustum: centre to the four image corners at depth ``size``, and the image rectangle.
    """
    K = cameras.intrinsics(height, width)
    s = min(height, width)  # the rendered square (the rest of the canvas is padding)
    corners = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], float)
    segs = []
    for i in range(0, len(cameras), every):
        rays = corners @ np.linalg.inv(K[i]).T * size
        world = (rays - cameras.t[i]) @ cameras.R[i]  # camera -> world: R^T (x - t)
        c = cameras.centers[i]
        for w in world:
            segs += [c, w, [np.nan] * 3]
        segs += [*world, world[0], [np.nan] * 3]
    return np.array(segs)


# axis titles and the default view (plotly's scene camera) of each coordinate frame
_VIEWS = {
    "world": dict(xaxis_title="X", yaxis_title="Y", zaxis_title="Z (up)"),
    "camera": dict(
        xaxis_title="x (right)",
        yaxis_title="y (down)",
        zaxis_title="z (forward)",
        camera=dict(up=dict(x=0, y=-1, z=0), eye=dict(x=-2.2, y=-1.0, z=-0.9)),
    ),
}


def camera_figure(
    paths: dict[str, CameraPath],
    points: dict[str, np.ndarray] | None = None,
    every: int = 10,
    frustum_size: float = 0.25,
    title: str = "",
    frame: str = "world",
):
    """Plotly 3D figure of camera paths (centres and frustums) around point clouds.

    paths: name -> CameraPath; points: name -> (N, 3) world points (e.g. head landmarks).
    frame: "world" (the proxy world, +Z up) or "camera" (coordinates of a camera: x right, y down,
    z forward), for the axis titles and a default view that is upright in that frame.
    """
    if frame not in _VIEWS:
        raise ValueError(f"frame must be one of {list(_VIEWS)}, got {frame!r}")
    import plotly.graph_objects as go

    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for k, (name, pts) in enumerate((points or {}).items()):
        fig.add_trace(
            go.Scatter3d(
                x=pts[:, 0],
                y=pts[:, 1],
                z=pts[:, 2],
                mode="markers",
                name=name,
                marker=dict(size=1.5, color=palette[(k + 3) % len(palette)]),
            )
        )
    for k, (name, cams) in enumerate(paths.items()):
        col = palette[k % len(palette)]
        c = cams.centers
        fig.add_trace(
            go.Scatter3d(
                x=c[:, 0], y=c[:, 1], z=c[:, 2], mode="lines", name=f"{name} path", line=dict(color=col, width=4)
            )
        )
        f = frustum_lines(cameras=cams, size=frustum_size, every=every)
        fig.add_trace(
            go.Scatter3d(
                x=f[:, 0], y=f[:, 1], z=f[:, 2], mode="lines", name=f"{name} frustums", line=dict(color=col, width=2)
            )
        )
    fig.update_layout(
        title=title,
        scene=dict(aspectmode="data", **_VIEWS[frame]),
        margin=dict(l=0, r=0, t=30 if title else 0, b=0),
        legend=dict(itemsizing="constant"),
    )
    return fig


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of an (H, W, 3) uint8 RGB image, e.g. for an ``ipywidgets.Image``."""
    import imageio.v3 as iio

    return iio.imwrite("<bytes>", image, extension=".png")
