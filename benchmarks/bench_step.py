"""Time one FaceCam denoising step (both CFG passes) and record peak memory.

    python benchmarks/bench_step.py                         # tiny random model on the CPU
    python benchmarks/bench_step.py --config wan22 --device cuda   # one Wan2.2-I2V-A14B expert, 81x704x480
    python benchmarks/bench_step.py --config wan21 --device cuda   # Wan2.1-T2V-1.3B size at 81x480x832

Full-size configurations use random weights (bf16) at the official resolutions and report the
achieved TFLOP/s against the counted FLOPs (facecam_kit.model.flops) and the GPU's bf16 peak.
"""

import argparse
import time

import torch
from diffusers import WanTransformer3DModel

from facecam_kit.model.flops import WAN21_T2V_1_3B, WAN22_I2V_A14B, forward_flops, latent_shape, tokens
from facecam_kit.model.pipeline import tiny_dit_config

CONFIGS = {  # name: (transformer kwargs, flops config, frames, height, width)
    "tiny": (
        tiny_dit_config(),
        None,
        9,
        128,
        96,
    ),
    "wan22": (
        dict(num_attention_heads=40, attention_head_dim=128, in_channels=36, ffn_dim=13824, num_layers=40),
        WAN22_I2V_A14B,
        81,
        704,
        480,
    ),
    # ReCamMaster's base (text-to-video, 16 input channels); its per-block projector is counted, not run
    "wan21": (
        dict(num_attention_heads=12, attention_head_dim=128, in_channels=16, ffn_dim=8960, num_layers=30),
        WAN21_T2V_1_3B,
        81,
        480,
        832,
    ),
}
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0}  # dense bf16, SXM


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=list(CONFIGS), default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    kwargs, flops_cfg, f, h, w = CONFIGS[a.config]
    dtype = torch.bfloat16 if a.device.startswith("cuda") else torch.float32
    with torch.device("meta"):
        n_params = sum(x.numel() for x in WanTransformer3DModel(**kwargs).parameters())
    model = WanTransformer3DModel(**kwargs).to(a.device, dtype).eval()
    lf, lh, lw = latent_shape(f, h, w)
    x = torch.randn(1, kwargs["in_channels"], 2 * lf, lh, lw, device=a.device, dtype=dtype)
    text = torch.randn(1, 512, model.config.text_dim, device=a.device, dtype=dtype)
    t = torch.tensor([900.0], device=a.device, dtype=dtype)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.no_grad():
        for _ in range(a.repeats + 1):
            sync()
            t0 = time.perf_counter()
            for _ in range(2):  # the two classifier-free guidance passes
                model(x, t, text, return_dict=False)
            sync()
            times.append(time.perf_counter() - t0)
    step = min(times[1:])
    if a.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:  # the whole process's peak resident memory
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{a.config}: {n_params:,} parameters, {tokens(f, h, w):,} tokens, {a.device} {dtype}")
    print(f"one step (2 CFG passes): {step:.3f} s; peak memory {peak:.1f} GiB")
    if flops_cfg is not None:
        achieved = 2 * forward_flops(flops_cfg, tokens(f, h, w))["total"] / step / 1e12
        name = torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu"
        peak_tf = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        print(
            f"achieved {achieved:.0f} TFLOP/s"
            + (f" = {achieved / peak_tf:.0%} of {name}'s {peak_tf:.0f} bf16 peak" if peak_tf else "")
        )


if __name__ == "__main__":
    main()
