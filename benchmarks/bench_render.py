"""Proxy-head rendering: speed of each backend here and, on a CUDA machine, gsplat/CPU parity.

    python benchmarks/bench_render.py [--size 480] [--views 5] [--repeats 3]

Prints ms per frame for the generic head (about 13k Gaussians) on every available backend
("cpu" always, "gsplat" with CUDA), and with both the PSNR between their renders of the same
views (the issue asks for >= 35 dB).
"""

import argparse
import time

import numpy as np

from facecam_kit.evaluation.fidelity import psnr
from facecam_kit.geometry.camera import orbit_cameras
from facecam_kit.proxy.head import make_proxy_head
from facecam_kit.proxy.rasterise import available_backends, render_gaussians


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=480)
    p.add_argument("--views", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    g = make_proxy_head().gaussians
    rng = np.random.default_rng(0)  # official ranges: |azimuth| <= 45, |elevation| <= 30, fov 25-55
    cams = orbit_cameras(rng.uniform(-45, 45, a.views), rng.uniform(-30, 30, a.views), rng.uniform(25, 55, a.views))
    K = cams.intrinsics(a.size, a.size)
    images = {}
    for backend in available_backends():
        render = lambda backend=backend: np.stack(
            [
                render_gaussians(g, cams.R[i], cams.t[i], K[i], a.size, a.size, backend=backend).numpy()
                for i in range(len(cams))
            ]
        )
        images[backend] = render()  # warm-up (CUDA context, kernels)
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            render()
            times.append((time.perf_counter() - t0) * 1000 / len(cams))
        print(f"{backend:7s}: {np.median(times):8.1f} ms/frame ({len(g)} Gaussians, {a.size}x{a.size})")
    if len(images) == 2:
        db = psnr(images["gsplat"], images["cpu"])  # float images: data range 1
        print(f"gsplat vs cpu: {db:.1f} dB PSNR over {len(cams)} views (target >= 35 dB)")
    else:
        print("gsplat vs cpu parity: needs a CUDA GPU with gsplat")


if __name__ == "__main__":
    main()
