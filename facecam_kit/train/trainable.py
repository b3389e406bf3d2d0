"""What trains: named presets that freeze everything else.

* ``facecam``: every block's self-attention (``attn1``: q, k, v, out and its q/k RMS norms) and the
  input ``patch_embedding``. Self-attention is where the target tokens read the source video and
  the camera; ``patch_embedding`` must relearn its input, since FaceCam gives the 20 conditioning
  channels a new meaning (camera latents + zeros, where Wan I2V had mask + image latents;
  docs/official_behaviour.md, section 1). Left frozen: cross-attention (the text is unchanged),
  the feed-forward layers, the timestep modulation tables and embedders (the noise levels mean
  what they meant) and the output head (the same latent space, the same velocity). The released
  checkpoints look fully fine-tuned (section 2), which is the ``full`` preset; ``facecam`` is the
  cheaper recipe in ReCamMaster's spirit.
* ``recammaster``: ``cam_encoder``, ``projector`` and self-attention of a
  :class:`~facecam_kit.baselines.recammaster.ReCamMasterTransformer` (ReCamMaster's training
  script, section 5).
* ``full``: every parameter.
* ``lora``: rank-r adapters through peft on ``lora_targets`` (DiffSynth's default: both
  attentions' q, k, v, o and the feed-forward), the base weights frozen. A checkpoint holds the
  merged weights ``W + (alpha / r) B A``, so that ``render --weights`` loads it as any other.

``extra_trainable`` adds modules by name (e.g. ``patch_embedding`` with ``lora``).

Taught in notebook 08 (training: which layers each preset trains); notebook 06 (the model and
inference) names these layers.
"""

from __future__ import annotations

import torch
from torch import nn

_PRESET_PATTERNS = {
    "facecam": (".attn1.", "patch_embedding."),
    "recammaster": (".attn1.", ".cam_encoder.", ".projector."),
    "full": ("",),
    "lora": (),
}


def _matches(name: str, patterns) -> bool:
    return any(p in f".{name}" for p in patterns)


def apply_preset(
    model: nn.Module,
    preset: str,
    extra_trainable=(),
    lora_rank: int = 16,
    lora_alpha: float = 16.0,
    lora_targets=(),
) -> list[str]:
    """Freeze ``model`` except the preset's parameters (LoRA adapters are added in place).

    Returns the names of the trainable parameters (sorted). Raises ValueError for an unknown
    preset, for ``recammaster`` on a model without camera encoders, and when nothing would train.
    """
    if preset not in _PRESET_PATTERNS:
        raise ValueError(f"preset must be one of {', '.join(_PRESET_PATTERNS)}, got {preset!r}")
    names = [n for n, _ in model.named_parameters()]
    if preset == "recammaster" and not any(".cam_encoder." in f".{n}" for n in names):
        raise ValueError("preset recammaster needs a ReCamMasterTransformer (per-block cam_encoder and projector)")
    model.requires_grad_(False)
    if preset == "lora":
        from peft import LoraConfig

        targets = list(lora_targets)
        found = {t for t in targets if any(n.endswith(f".{t}") or n == t for n, _ in model.named_modules())}
        if missing := sorted(set(targets) - found):
            raise ValueError(f"lora_targets {missing} name no module of {type(model).__name__}")
        model.add_adapter(
            LoraConfig(r=lora_rank, lora_alpha=lora_alpha, target_modules=targets, init_lora_weights=True)
        )
    patterns = _PRESET_PATTERNS[preset] + tuple(f"{p.strip('.')}." for p in extra_trainable)
    if unknown := [e for e in extra_trainable if not any(_matches(n, (f"{e.strip('.')}.",)) for n in names)]:
        # as lora_targets: a misspelt module would silently train nothing extra
        raise ValueError(f"extra_trainable {unknown} name no module of {type(model).__name__}")
    for name, p in model.named_parameters():
        if _matches(name, patterns) or (preset == "lora" and "lora_" in name):
            p.requires_grad_(True)
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    if not trainable:
        raise ValueError(f"preset {preset!r} with extra_trainable {list(extra_trainable)} trains no parameter")
    return trainable


def merged_state_dict(state_dict: dict, lora_alpha: float, lora_rank: int) -> dict:
    """A state dict without LoRA: ``x.base_layer.weight + (alpha / r) B A`` becomes ``x.weight``.

    Works on a full (gathered) state dict, so it needs no access to sharded modules.
    """
    out, scale = {}, lora_alpha / lora_rank
    for key, value in state_dict.items():
        if ".lora_" in key:
            continue
        if ".base_layer." in key:
            prefix, leaf = key.split(".base_layer.")
            if leaf == "weight":
                a = state_dict[f"{prefix}.lora_A.default.weight"].float()
                b = state_dict[f"{prefix}.lora_B.default.weight"].float()
                value = (value.float() + scale * b @ a).to(value.dtype)
            key = f"{prefix}.{leaf}"
        out[key] = value
    return out


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def trainable_parameters(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
