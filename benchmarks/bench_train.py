"""Training steps of Wan2.1-1.3B (ReCamMaster preset) under the kit's trainer: time, peak memory, TFLOP/s.

    python benchmarks/bench_train.py                                 # the tiny ReCamMaster DiT on the CPU, 9x64x64
    python benchmarks/bench_train.py --config wan21 --device cuda    # Wan2.1-1.3B, 81x480x832, bf16, checkpointing
    accelerate launch --config_file configs/accelerate/fsdp2.yaml --num_processes 1 \
        benchmarks/bench_train.py --config wan21 --device cuda       # the same under FSDP2

Random latents of the run's size stand in for the latent cache; batch 1. The achieved TFLOP/s
counts 4 forward passes a step (forward, backward = 2x, the checkpoint's recompute;
facecam_kit.train.scale): facecam_kit.gpu_stages.measure_training, stage 4 of `gpu-check`.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from facecam_kit.gpu_stages import measure_training


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=["tiny", "wan21"], default="tiny", help="tiny: on the CPU")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    a = p.parse_args()
    tiny = a.config == "tiny"
    if not tiny and not (a.device == "cuda" and torch.cuda.is_available()):
        p.error("the full-size training step needs --device cuda on a CUDA GPU; --config tiny runs on the CPU")
    with tempfile.TemporaryDirectory() as work:
        for key, value in measure_training(tiny, Path(work)).items():
            print(f"{key:28s} {value:,.4g}" if isinstance(value, float) else f"{key:28s} {value}")


if __name__ == "__main__":
    main()
