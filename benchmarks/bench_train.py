"""Training steps per second and peak memory of the flow-matching step (facecam_kit.train).

    python benchmarks/bench_train.py                          # tiny FaceCam DiT on the CPU, 9x64x64
    python benchmarks/bench_train.py --config wan21 --device cuda   # ReCamMaster's Wan2.1-1.3B, 81x480x832

One step = the trainer's loss (facecam_kit.train.trainer.flow_matching_loss) on random cached-size
latents, backward, gradient clipping and an AdamW step; batch 1. ``wan21`` trains the
``recammaster`` preset of a ReCamMasterTransformer with gradient checkpointing under bf16
autocast and reports the achieved TFLOP/s against 4 forward passes (forward, backward = 2x,
the checkpoint recompute; facecam_kit.train.scale).
"""

import argparse
import resource
import time

import torch

from facecam_kit.baselines.recammaster import ReCamMasterTransformer
from facecam_kit.model.flops import WAN21_T2V_1_3B, forward_flops, latent_shape, tokens
from facecam_kit.model.pipeline import tiny_dit_config
from facecam_kit.train.config import TrainConfig
from facecam_kit.train.scale import transformer_kwargs
from facecam_kit.train.trainable import apply_preset, count_parameters
from facecam_kit.train.trainer import flow_matching_loss

CONFIGS = {  # name: (model class, kwargs, preset, frames, height, width, flops config)
    "tiny": (None, tiny_dit_config(), "facecam", 9, 64, 64, None),
    "wan21": (ReCamMasterTransformer, transformer_kwargs(WAN21_T2V_1_3B), "recammaster", 81, 480, 832, WAN21_T2V_1_3B),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=list(CONFIGS), default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    cls, kwargs, preset, f, h, w, flops_cfg = CONFIGS[a.config]
    cuda = a.device.startswith("cuda")
    if cls is None:
        from diffusers import WanTransformer3DModel

        cls = WanTransformer3DModel
    torch.manual_seed(0)
    model = cls(**kwargs).to(a.device)
    apply_preset(model, preset)
    if cuda:
        model.enable_gradient_checkpointing()
    model.train()
    cfg = TrainConfig(preset=preset, expert="high", text_dropout=0.1, tracker="none", progress=False)
    lf, lh, lw = latent_shape(f, h, w)
    batch = {k: torch.randn(1, 16, lf, lh, lw, device=a.device) for k in ("target", "source", "condition")}
    batch["camera"] = torch.randn(1, lf, 12, device=a.device)
    text = torch.randn(512 if cuda else 16, model.config.text_dim)
    empty = torch.zeros_like(text)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(a.steps + 1):  # the first step warms up
        sync()
        t0 = time.perf_counter()
        with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=cuda):
            loss, _ = flow_matching_loss(model, batch, text, empty, cfg, "high", [step])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - t0)
    step_s = sum(times[1:]) / a.steps
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    trainable, total = count_parameters(model)
    print(
        f"{a.config} ({preset}): {trainable:,} of {total:,} parameters trained, {tokens(f, h, w):,} tokens, {a.device}"
    )
    print(f"{1 / step_s:.2f} steps/s ({step_s:.3f} s a step, batch 1); peak memory {peak:.2f} GiB")
    if flops_cfg is not None:
        achieved = 4 * forward_flops(flops_cfg, tokens(f, h, w))["total"] / 1e12 / step_s
        print(f"achieved {achieved:.0f} TFLOP/s (4 forward passes counted a step)")


if __name__ == "__main__":
    main()
