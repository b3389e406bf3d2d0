"""Training steps of Wan2.1-1.3B (ReCamMaster preset) under the kit's trainer: time, peak memory, TFLOP/s.

    python benchmarks/bench_train.py --tiny          # the tiny ReCamMaster DiT on the CPU, 9x64x64
    python benchmarks/bench_train.py                 # Wan2.1-1.3B at 81x480x832, bf16, checkpointing (CUDA)
    accelerate launch --config_file configs/accelerate/fsdp2.yaml --num_processes 1 benchmarks/bench_train.py

Random latents of the run's size stand in for the latent cache; batch 1. The achieved TFLOP/s
counts 4 forward passes a step (forward, backward = 2x, the checkpoint's recompute;
facecam_kit.train.scale): facecam_kit.gpu_check.measure_training, stage 4 of `gpu-check`.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from facecam_kit.gpu_check import measure_training


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="the tiny DiT, on the CPU")
    a = p.parse_args()
    if not a.tiny and not torch.cuda.is_available():
        p.error("the full-size training step needs a CUDA GPU; --tiny runs the tiny DiT on the CPU")
    with tempfile.TemporaryDirectory() as work:
        for key, value in measure_training(a.tiny, Path(work)).items():
            print(f"{key:28s} {value:,.4g}" if isinstance(value, float) else f"{key:28s} {value}")


if __name__ == "__main__":
    main()
