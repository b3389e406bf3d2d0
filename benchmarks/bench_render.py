"""Proxy-head rendering: speed of each backend here and, on a CUDA machine, gsplat/CPU parity.

    python benchmarks/bench_render.py [--size 480] [--views 5] [--repeats 3]

Prints ms per frame for the generic head (about 13k Gaussians) with the PyTorch rasteriser and,
with CUDA and gsplat, with gsplat, and the PSNR between their renders of the same views (the
issue asks for >= 35 dB): facecam_kit.gpu_stages.renderer_parity, stage 1 of `gpu-check`.
"""

import argparse

from facecam_kit.gpu_stages import renderer_parity


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=480)
    p.add_argument("--views", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    r = renderer_parity(a.size, a.views, a.repeats)
    print(f"cpu    : {r['cpu_ms_per_frame']:8.1f} ms/frame ({r['gaussians']} Gaussians, {a.size}x{a.size})")
    if r["backend"] == "gsplat":
        print(f"gsplat : {r['backend_ms_per_frame']:8.1f} ms/frame")
        print(f"gsplat vs cpu: {r['psnr_db']:.1f} dB PSNR over {a.views} views (target >= 35 dB)")
    else:
        print("gsplat vs cpu parity: needs a CUDA GPU with gsplat")


if __name__ == "__main__":
    main()
