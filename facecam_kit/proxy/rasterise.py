"""Rendering 3D Gaussians: gsplat on CUDA, and a pure-PyTorch CPU renderer with the same output.

Both follow the classic 3DGS rasteriser: each Gaussian is projected to a 2D Gaussian (EWA:
``Sigma_2D = J W Sigma W^T J^T + 0.3 I``) with opacity ``alpha = min(0.999, o exp(-d^T Sigma_2D^-1 d / 2))``
at pixel offset ``d``, fragments with ``alpha < 1/255`` are dropped, and each pixel composites its
fragments front to back until the transmittance falls to 1e-4; the background fills the rest.
The CPU renderer takes the Gaussians front to back in chunks; for each chunk it enumerates every
(Gaussian, pixel) fragment inside the box where alpha can reach 1/255, sorts them by pixel
(stable, so depth order survives) and composites with a segmented cumulative sum of
``log(1 - alpha)`` on top of each pixel's transmittance so far: no per-pixel Python loop. Pixels
that reached the stopping transmittance take no more fragments, and Gaussians whose whole box is
such pixels are skipped; chunks also keep the working set small (about 1.3x faster than one pass).

Cameras use the kit's convention (world-to-camera ``R, t``, OpenCV axes), as gsplat does.

Taught in notebook 05 (the proxy head); timed by ``benchmarks/bench_render.py``.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from facecam_kit.geometry.camera import CameraPath
from facecam_kit.proxy.gaussians import Gaussians
from facecam_kit.spec import HEIGHT, WIDTH

NEAR = 0.01
EPS_2D = 0.3
MIN_ALPHA = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4


def available_backends() -> list[str]:
    """'gsplat' when CUDA and gsplat's kernels are usable, and always 'cpu'."""
    backends = ["cpu"]
    if torch.cuda.is_available():
        try:
            import gsplat  # noqa: F401

            backends.insert(0, "gsplat")
        except ImportError:
            pass
    return backends


def resolve_backend(backend: str = "auto") -> str:
    """The backend that ``backend`` renders with here: "auto" is gsplat when CUDA is available, else "cpu"."""
    if backend == "auto":
        backend = available_backends()[0]
    if backend not in ("gsplat", "cpu"):
        raise ValueError(f"backend must be 'auto', 'gsplat' or 'cpu', got {backend!r}")
    if backend == "gsplat" and "gsplat" not in available_backends():
        raise ValueError("backend 'gsplat' needs a CUDA GPU; use backend='cpu' (same output) on this machine")
    return backend


def _render_cpu(g: Gaussians, R, t, K, width: int, height: int, background, chunk: int = 1024) -> torch.Tensor:
    dt = torch.float64
    R, t, K = (torch.as_tensor(np.asarray(a), dtype=dt) for a in (R, t, K))
    mc = torch.as_tensor(g.means, dtype=dt) @ R.T + t
    front = mc[:, 2] > NEAR
    mc = mc[front]
    cov = R @ torch.as_tensor(g.covariances()[front.numpy()], dtype=dt) @ R.T
    x, y, z = mc.unbind(1)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    J = torch.zeros(len(z), 2, 3, dtype=dt)
    J[:, 0, 0], J[:, 0, 2] = fx / z, -fx * x / z**2
    J[:, 1, 1], J[:, 1, 2] = fy / z, -fy * y / z**2
    cov2 = J @ cov @ J.transpose(1, 2) + EPS_2D * torch.eye(2, dtype=dt)
    a, b, c = cov2[:, 0, 0], cov2[:, 0, 1], cov2[:, 1, 1]
    det = a * c - b * b
    mid = (a + c) / 2
    opac = torch.as_tensor(g.opacities, dtype=dt)[front]
    # beyond this distance alpha < 1/255 (about 3.3 standard deviations for opaque Gaussians)
    cutoff = torch.sqrt(2 * torch.log(torch.clamp(opac / MIN_ALPHA, min=1.0)))
    radius = cutoff * torch.sqrt(mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1)))
    u, v = fx * x / z + cx, fy * y / z + cy
    # pixel (i, j) has its centre at (i + 0.5, j + 0.5)
    x0 = torch.clamp(torch.ceil(u - radius - 0.5), min=0).long()
    x1 = torch.clamp(torch.floor(u + radius - 0.5), max=width - 1).long()
    y0 = torch.clamp(torch.ceil(v - radius - 0.5), min=0).long()
    y1 = torch.clamp(torch.floor(v + radius - 0.5), max=height - 1).long()
    w, h = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
    order = torch.argsort(z)  # front to back
    order = order[(w[order] * h[order]) > 0]

    # fragment math in float32: offsets are a few pixels, so single precision is ample
    f32 = lambda a: a.to(torch.float32)
    u, v, opac = f32(u), f32(v), f32(opac)
    ia, ib, ic = f32(c / det), f32(-b / det), f32(a / det)  # inverse covariance (conic)
    colors = torch.as_tensor(g.colors, dtype=dt)[front]
    image = torch.zeros(height * width, 3, dtype=dt)
    log_t_pixel = torch.zeros(height * width, dtype=dt)  # log transmittance so far
    done = torch.zeros(height * width, dtype=torch.bool)  # the rasteriser stopped at T <= 1e-4
    stop = np.log(MIN_TRANSMITTANCE)
    for first in range(0, len(order), chunk):
        ids = order[first : first + chunk]
        # skip Gaussians whose whole box is done (behind opaque ones): summed-area table of open pixels
        table = torch.zeros(height + 1, width + 1, dtype=torch.int32)
        table[1:, 1:] = (~done).view(height, width).int().cumsum(0).cumsum(1)
        a0, a1, b0, b1 = x0[ids], x1[ids] + 1, y0[ids], y1[ids] + 1
        ids = ids[(table[b1, a1] - table[b0, a1] - table[b1, a0] + table[b0, a0]) > 0]
        counts = w[ids] * h[ids]
        gi = torch.repeat_interleave(ids, counts)
        local = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        wg = w[gi]
        py = torch.div(local, wg, rounding_mode="floor")
        px = x0[gi] + local - py * wg
        py += y0[gi]
        pix = py * width + px
        live = ~done[pix]
        gi, px, py, pix = gi[live], px[live], py[live], pix[live]
        dx, dy = px + (0.5 - u[gi]), py + (0.5 - v[gi])
        sigma = 0.5 * (ia[gi] * dx * dx + ic[gi] * dy * dy) + ib[gi] * dx * dy
        alpha = torch.clamp(opac[gi] * torch.exp(-sigma), max=MAX_ALPHA)
        keep = (sigma >= 0) & (alpha >= MIN_ALPHA)
        gi, alpha, pix = gi[keep], alpha[keep].double(), pix[keep]

        # composite: stable sort by pixel keeps the depth order inside each pixel
        srt = torch.sort(pix, stable=True).indices
        gi, alpha, pix = gi[srt], alpha[srt], pix[srt]
        log_t = torch.log1p(-alpha)
        csum = torch.cumsum(log_t, 0)
        _, seg_counts = torch.unique_consecutive(pix, return_counts=True)
        seg_start = torch.repeat_interleave(torch.cumsum(seg_counts, 0) - seg_counts, seg_counts)
        before = csum - log_t - (csum[seg_start] - log_t[seg_start]) + log_t_pixel[pix]  # log T in front
        used = before + log_t > stop
        image.index_add_(0, pix[used], (alpha * torch.exp(before))[used, None] * colors[gi[used]])
        log_t_pixel.index_add_(0, pix[used], log_t[used])
        done[pix[~used]] = True
    image += torch.exp(log_t_pixel)[:, None] * torch.as_tensor(background, dtype=dt)
    return image.reshape(height, width, 3).float()


def _render_gsplat(g: Gaussians, R, t, K, width: int, height: int, background) -> torch.Tensor:
    from gsplat import rasterization

    dev = torch.device("cuda")
    f = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32, device=dev)
    view = torch.eye(4, device=dev)
    view[:3, :3], view[:3, 3] = f(R), f(t)
    img, _, _ = rasterization(
        f(g.means),
        f(g.quats),
        f(g.scales),
        f(g.opacities),
        f(g.colors),
        view[None],
        f(K)[None],
        width,
        height,
        near_plane=NEAR,
        eps2d=EPS_2D,
        backgrounds=f(background)[None],
        packed=False,
    )
    return img[0].clamp(0, 1).cpu()


def render_gaussians(
    g: Gaussians, R, t, K, width: int, height: int, background=(1.0, 1.0, 1.0), backend: str = "auto"
) -> torch.Tensor:
    """Render one view. R: (3, 3), t: (3,) world-to-camera; K: (3, 3).

    backend: "gsplat" (CUDA), "cpu", or "auto" (gsplat when CUDA is available).
    Returns (H, W, 3) float32 RGB in [0, 1] on the CPU.
    """
    backend = resolve_backend(backend)
    fn = _render_gsplat if backend == "gsplat" else _render_cpu
    with torch.no_grad():
        return fn(g, R, t, K, width, height, background).clamp(0, 1)


def render_video(
    g: Gaussians,
    cameras: CameraPath,
    height: int = HEIGHT,
    width: int = WIDTH,
    backend: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Render a camera path as the official proxy renderer does.

    Each frame is rendered at ``S = min(H, W)`` on a white background and padded with white at
    the bottom/right to ``H x W``. Returns (F, H, W, 3) uint8 RGB.
    """
    backend = resolve_backend(backend)  # checked before any frame, and named in the progress bar
    s = min(height, width)
    K = cameras.intrinsics(height, width)
    out = np.full((len(cameras), height, width, 3), 255, np.uint8)
    for i in tqdm(range(len(cameras)), desc=f"render ({backend})", disable=not progress):
        img = render_gaussians(g, cameras.R[i], cameras.t[i], K[i], s, s, backend=backend)
        out[i, :s, :s] = (img.numpy() * 255 + 0.5).astype(np.uint8)
    return out
