"""Training-data loader speed: StudioDataset samples per second at 128 px and 480 px.

    python benchmarks/bench_dataset.py [--samples 8] [--workers 0]

Generates small studios on first use (cached under outputs/bench_studio_<size>; the 480 px one
takes a few minutes of CPU rendering) and times full samples: decode, stitch, augment (scale,
background segmentation, synthetic motion) and condition drawing.
"""

import argparse
import time
from pathlib import Path

import torch

from facecam_kit.data.dataset import StudioDataset
from facecam_kit.data.studio import make_studio


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    a = p.parse_args()
    for size in (128, 480):
        root = Path(f"outputs/bench_studio_{size}")
        if not any(root.glob("*/capture.json")):
            make_studio(root, num_heads=1, num_cameras=4, num_frames=17, size=size, seed=0)
        ds = StudioDataset(root, num_frames=17, samples_per_capture=a.samples + 1, seed=0)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=a.workers)
        it = iter(loader)
        next(it)  # warm-up: decode the capture, load MediaPipe
        t0 = time.perf_counter()
        for _ in range(a.samples):
            next(it)
        rate = a.samples / (time.perf_counter() - t0)
        print(f"{size:4d} px, 17 frames, {a.workers} workers: {rate:6.2f} samples/s")


if __name__ == "__main__":
    main()
