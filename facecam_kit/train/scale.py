"""Training at scale, on paper: memory per GPU and step time of one expert, from its configuration.

``docs/training_at_scale.md`` prints the tables this module computes (``python -m
facecam_kit.train.scale``). The model (per GPU, FSDP2 full shard or ZeRO-3 over ``num_gpus``,
bf16 mixed precision, AdamW, batch 1 per GPU):

* **sharded states**: every parameter kept in fp32 (4 B), and for the trainable ones an fp32
  gradient (4 B) and AdamW's two moments (8 B): ``(4 P + 12 P_trainable) / num_gpus``;
* **working copies**: the bf16 parameters of two blocks gathered at once (the one computing and
  the one prefetched) and one block's unsharded fp32 gradients before the reduce-scatter;
* **activations** with per-block checkpointing: each block's bf16 input (``L N d``) kept for the
  backward pass, plus one block recomputed at a time, about ``N (16 d + 2 ffn)`` bf16 values
  (norm outputs, q/k/v before and after their norms and RoPE, attention outputs, the two
  cross-attention projections, the feed-forward's hidden layer before and after GELU); flash
  attention stores no N x N matrix. Without checkpointing all ``L`` blocks keep theirs.

Step time: a training step costs about 3 forward passes (forward, and a backward pass twice
as expensive), plus one more to recompute the checkpointed blocks; divided by the achieved
throughput (peak x MFU).

Taught in notebook 08 (training: the memory per GPU as a figure); notebook 06 counts the FLOPs
(:mod:`facecam_kit.model.flops`).
"""

from __future__ import annotations

from dataclasses import dataclass

from facecam_kit.model.flops import WAN21_T2V_1_3B, WAN22_I2V_A14B, DiTConfig, forward_flops, tokens

GB = 1e9
#: dense bf16 peak of the GPUs the docs talk about, TFLOP/s (SXM parts)
PEAK_TFLOPS = {"A100": 312.0, "H100": 989.0, "H200": 989.0}


def transformer_kwargs(cfg: DiTConfig) -> dict:
    """``WanTransformer3DModel`` arguments of a :class:`~facecam_kit.model.flops.DiTConfig` (128-d heads)."""
    return dict(
        num_attention_heads=cfg.dim // 128,
        attention_head_dim=128,
        in_channels=cfg.in_channels,
        ffn_dim=cfg.ffn,
        num_layers=cfg.layers,
    )


@dataclass(frozen=True)
class ParameterCounts:
    total: int
    trainable: int
    per_block: int
    trainable_per_block: int


def parameter_counts(cfg: DiTConfig, preset: str = "full") -> ParameterCounts:
    """Exact counts of the diffusers model of ``cfg``, built on the meta device (no memory), with a
    training preset of :mod:`facecam_kit.train.trainable` applied (``full`` or ``facecam``)."""
    import torch
    from diffusers import WanTransformer3DModel

    from facecam_kit.train.trainable import apply_preset

    with torch.device("meta"):
        model = WanTransformer3DModel(**transformer_kwargs(cfg))
        apply_preset(model, preset)
    block = model.blocks[0]
    return ParameterCounts(
        total=sum(p.numel() for p in model.parameters()),
        trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
        per_block=sum(p.numel() for p in block.parameters()),
        trainable_per_block=sum(p.numel() for p in block.parameters() if p.requires_grad),
    )


def memory_per_gpu(
    cfg: DiTConfig, counts: ParameterCounts, n_tokens: int, num_gpus: int, checkpointing: bool = True
) -> dict[str, float]:
    """Bytes per GPU by part (model in the module docstring): ``states``, ``working``,
    ``activations`` and ``total``, in GB (1e9 bytes)."""
    if num_gpus < 1:
        raise ValueError(f"num_gpus must be >= 1, got {num_gpus}")
    states = (4 * counts.total + 12 * counts.trainable) / num_gpus
    working = 2 * 2 * counts.per_block + 4 * counts.trainable_per_block
    one_block = n_tokens * (16 * cfg.dim + 2 * cfg.ffn) * 2
    activations = cfg.layers * n_tokens * cfg.dim * 2 + one_block if checkpointing else cfg.layers * one_block
    parts = {"states": states, "working": working, "activations": activations}
    return {k: v / GB for k, v in {**parts, "total": sum(parts.values())}.items()}


def step_seconds(cfg: DiTConfig, n_tokens: int, peak_tflops: float, mfu: float, checkpointing: bool = True) -> float:
    """Seconds of one training step of one sample per GPU: ``(3 + recompute) x forward / (peak x mfu)``."""
    passes = 4 if checkpointing else 3
    return passes * forward_flops(cfg, n_tokens)["total"] / (peak_tflops * 1e12 * mfu)


#: the runs docs/training_at_scale.md discusses: (name, config, frames, height, width)
RUNS = (
    ("FaceCam, one Wan2.2-I2V-A14B expert, 81x704x480", WAN22_I2V_A14B, 81, 704, 480),
    ("ReCamMaster, Wan2.1-T2V-1.3B, 81x480x832", WAN21_T2V_1_3B, 81, 480, 832),
)


def main() -> None:
    """Print the tables of docs/training_at_scale.md."""
    for name, cfg, f, h, w in RUNS:
        n = tokens(f, h, w)
        fwd = forward_flops(cfg, n)["total"] / 1e12
        print(f"\n{name}: {n:,} tokens, {fwd:,.1f} TFLOP per forward")
        for preset in ("full", "facecam"):
            c = parameter_counts(cfg, preset)
            print(f"  preset {preset}: {c.total / 1e9:.2f} B parameters, {c.trainable / 1e9:.2f} B trainable")
            for gpus in (1, 8, 24):
                m = memory_per_gpu(cfg, c, n, gpus)
                print(
                    f"    {gpus:2d} GPUs: states {m['states']:6.1f} + working {m['working']:4.1f} + "
                    f"activations {m['activations']:5.1f} = {m['total']:6.1f} GB per GPU"
                )
        m = memory_per_gpu(cfg, parameter_counts(cfg, "full"), n, 8, checkpointing=False)
        print(f"  without checkpointing: activations {m['activations']:,.0f} GB per GPU")
        for gpu, mfu in (("A100", 0.4), ("H100", 0.4)):
            s = step_seconds(cfg, n, PEAK_TFLOPS[gpu], mfu)
            print(
                f"  {gpu} at {mfu:.0%} MFU: {s:,.0f} s per step (one sample per GPU); "
                f"3,000 steps = {3000 * s / 3600:,.1f} h"
            )


if __name__ == "__main__":
    main()
