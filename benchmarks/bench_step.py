"""Time one FaceCam denoising step (both CFG passes) and record peak memory.

    python benchmarks/bench_step.py                                # the kit's tiny DiT on the CPU, 9x64x64
    python benchmarks/bench_step.py --config wan22 --device cuda   # one Wan2.2-I2V-A14B expert, 81x704x480
    python benchmarks/bench_step.py --config wan21 --device cuda   # Wan2.1-T2V-1.3B + ReCamMaster layers, 81x480x832

Full-size models get random weights in bf16, created on the GPU, at the official resolutions; the
achieved TFLOP/s is against the counted FLOPs (facecam_kit.model.flops) and the projected 50 steps
against their lower bound at 790 TFLOP/s: facecam_kit.gpu_measure.denoise_step, stage 2 of `gpu-check`.
"""

import argparse

import torch

from facecam_kit.gpu_measure import denoise_step


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=["tiny", "wan22", "wan21"], default="tiny", help="tiny: on the CPU")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    tiny = a.config == "tiny"
    if not tiny and not (a.device == "cuda" and torch.cuda.is_available()):
        p.error("the full-size step needs --device cuda on a CUDA GPU; --config tiny runs on the CPU")
    for key, value in denoise_step("wan22" if tiny else a.config, tiny, a.repeats).items():
        print(f"{key:28s} {value:,.4g}" if isinstance(value, float) else f"{key:28s} {value}")


if __name__ == "__main__":
    main()
