"""Image fidelity against ground-truth target views: PSNR and SSIM (the paper's Table 1).

* PSNR: ``10 log10(data_range^2 / MSE)`` over all pixels and channels (or the pixels in a mask).
  Identical images give ``inf``. ``data_range`` defaults to 255 for uint8 images and 1 for floats.
* SSIM: scikit-image's ``structural_similarity`` with the settings of Wang et al. (2004), which
  the papers' tables use: an 11x11 Gaussian window (sigma 1.5), population covariances, K1 = 0.01,
  K2 = 0.03, averaged over the three colour channels.
* flicker: the mean absolute change from one frame to the next (0-255 for uint8), to set beside the
  ground truth's own (a camera that moves changes every frame; a generator adds its noise on top).
* LPIPS is not computed: it needs pretrained AlexNet/VGG weights, which the kit cannot download.

Taught in notebook 09 (learning camera control at mini scale).
"""

from __future__ import annotations

import numpy as np


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images to compare must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("images to compare are empty")
    return a, b


def _data_range(a: np.ndarray, data_range) -> float:
    if data_range is not None:
        return float(data_range)
    return 255.0 if a.dtype == np.uint8 else 1.0


def psnr(a, b, mask=None, data_range: float | None = None) -> float:
    """PSNR in dB between two images or videos of the same shape (…, H, W[, C]), over all elements.

    mask: boolean, broadcastable to ``a`` without its channel axis when ``a`` has one of size 3
    (e.g. (H, W) or (F, H, W) for (F, H, W, 3)): only those pixels count. Identical inputs give
    ``inf``; an empty mask raises ValueError.
    """
    a, b = _pair(a, b)
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if a.shape[-1] == 3 and m.shape != a.shape:
            m = m[..., None]
        try:
            m = np.broadcast_to(m, a.shape)
        except ValueError:
            raise ValueError(f"mask of shape {np.shape(mask)} does not fit images of shape {a.shape}") from None
        if not m.any():
            raise ValueError("mask selects no pixel")
        err = err[m]
    mse = err.mean()
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(_data_range(a, data_range) ** 2 / mse))


def psnr_per_frame(a, b, mask=None, data_range: float | None = None) -> np.ndarray:
    """PSNR of each frame of two videos (F, H, W, 3); mask (H, W) or (F, H, W). Returns (F,) dB."""
    a, b = _pair(a, b)
    if a.ndim != 4:
        raise ValueError(f"videos must have shape (F, H, W, 3), got {a.shape}")
    masks = np.broadcast_to(np.asarray(mask, bool), a.shape[:3]) if mask is not None else [None] * len(a)
    return np.array([psnr(x, y, m, data_range) for x, y, m in zip(a, b, masks)])


def flicker(video) -> float:
    """Mean absolute difference between consecutive frames of a (F, H, W[, 3]) video (F >= 2), in its units."""
    v = np.asarray(video, dtype=np.float64)
    if v.ndim < 3 or len(v) < 2:
        raise ValueError(f"flicker needs a video of at least 2 frames (F, H, W[, 3]), got shape {v.shape}")
    return float(np.abs(np.diff(v, axis=0)).mean())


def ssim(a, b, data_range: float | None = None) -> float:
    """SSIM of two images (H, W, 3) or (H, W), at least 11 px a side (Gaussian window, sigma 1.5)."""
    from skimage.metrics import structural_similarity

    a, b = _pair(a, b)
    if a.ndim not in (2, 3) or min(a.shape[:2]) < 11:
        raise ValueError(f"SSIM needs an image (H, W) or (H, W, 3) of at least 11x11 pixels, got {a.shape}")
    return float(
        structural_similarity(
            a.astype(np.float64),
            b.astype(np.float64),
            data_range=_data_range(a, data_range),
            channel_axis=-1 if a.ndim == 3 else None,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def ssim_per_frame(a, b, data_range: float | None = None) -> np.ndarray:
    """SSIM of each frame of two videos (F, H, W, 3). Returns (F,)."""
    a, b = _pair(a, b)
    if a.ndim != 4:
        raise ValueError(f"videos must have shape (F, H, W, 3), got {a.shape}")
    return np.array([ssim(x, y, data_range) for x, y in zip(a, b)])
