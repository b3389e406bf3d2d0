"""The training run's settings: one :class:`TrainConfig`, read from a YAML or JSON file.

Every field has a default that trains the tiny model on CPU; ``configs/train/*.yaml`` are
examples (the tiny studio run, and the 14B-expert run of ``docs/training_at_scale.md``). A file
with an unknown key or a value of the wrong kind is a one-line error naming the key.

No notebook teaches training yet; notebook 04 (the training dataset) makes the data it reads.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facecam_kit.spec import BOUNDARY, CAMERA_KINDS, check_num_frames

PRESETS = ("facecam", "recammaster", "full", "lora")


@dataclass
class TrainConfig:
    """Settings of one training run (``python -m facecam_kit.train CONFIG``)."""

    output_dir: str = "outputs/train/run"
    #: "tiny" (random tiny model built in code), or a weights folder (``render --weights`` layout)
    model: str = "tiny"
    #: the camera condition (facecam_kit.model.pipeline.CAMERA_KINDS): landmarks (FaceCam), plucker,
    #: extrinsics (ReCamMaster's camera encoder); null: extrinsics for preset recammaster, else landmarks
    camera: str | None = None
    #: with model "tiny": WanTransformer3DModel arguments over tiny_dit_config, for a model of its own
    #: size trained from scratch, one transformer for all timesteps (FaceCam-mini, notebook 08)
    dit: dict | None = None
    #: a VAE folder (AutoencoderKLWan.save_pretrained) replacing the base pipeline's VAE
    vae: str | None = None
    #: facecam | recammaster | full | lora (facecam_kit.train.trainable)
    preset: str = "facecam"
    #: module-name sub-strings trained on top of the preset (e.g. ["patch_embedding"] with lora)
    extra_trainable: list[str] = field(default_factory=list)
    lora_rank: int = 16
    lora_alpha: float = 16.0
    #: diffusers names of DiffSynth's default LoRA targets (self_attn / cross_attn q, k, v, o; ffn.0, ffn.2)
    lora_targets: list[str] = field(
        default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"]
    )
    #: high | low | both (both: one run, the expert drawn per step in proportion to its timestep share)
    expert: str = "high"
    boundary: float = BOUNDARY
    #: uniform (DiffSynth: uniform over the 1000 shifted steps, Gaussian loss weight) | logit_normal
    timestep_sampling: str = "uniform"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    #: ReCamMaster's noise on the source latents: a timestep range, e.g. [200, 500]; null for a clean source
    source_noise: list[float] | None = None
    #: probability of the empty prompt's embedding, so that CFG's unconditional branch is learnt
    text_dropout: float = 0.1
    #: ReCapture's masked loss: the dataset's valid "mask" (at latent resolution) weights the loss
    masked_loss: bool = False

    # -- data --------------------------------------------------------------------------------
    #: studio | monocular
    data_kind: str = "studio"
    data_root: str = "outputs/train/studio"
    #: make_studio's arguments to create data_root when it is missing (null: it must exist)
    make_studio: dict | None = None
    num_frames: int = 9
    samples_per_item: int = 8
    augment: bool = True
    data_seed: int = 0
    #: the metric size of a studio scene, drawn log-uniformly per sample: it multiplies the
    #: translations of the extrinsic and Plücker conditions and changes no pixel
    scene_scale_range: list[float] = field(default_factory=lambda: [1.0, 1.0])
    #: where the latents go (default: data_root/latents-<hash of the data settings>)
    cache_dir: str | None = None
    #: false: no cache, each sample encoded when drawn (the same numbers; for a few steps)
    latent_cache: bool = True
    cache_shard_size: int = 64
    prompt: str = "A portrait of a person"

    # -- optimisation --------------------------------------------------------------------------
    batch_size: int = 1
    grad_accum: int = 1
    max_steps: int = 300
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    #: constant | linear | cosine, each after lr_warmup_steps of linear warm-up
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    max_grad_norm: float = 1.0
    #: no | bf16 (autocast; master weights and optimiser states stay fp32)
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    seed: int = 0
    #: dtype of the saved transformers: float32 | bfloat16
    save_dtype: str = "float32"

    # -- bookkeeping ---------------------------------------------------------------------------
    log_every: int = 10
    checkpoint_every: int = 100
    #: validation video every N steps (0: never); validation_steps sampling steps
    validate_every: int = 0
    validation_steps: int = 4
    #: null | "latest" | a checkpoint folder
    resume: str | None = None
    #: tensorboard | none
    tracker: str = "tensorboard"
    progress: bool = True

    def __post_init__(self):
        check_num_frames(self.num_frames, "num_frames")
        choices = {
            "preset": PRESETS,
            "expert": ("high", "low", "both"),
            "timestep_sampling": ("uniform", "logit_normal"),
            "data_kind": ("studio", "monocular"),
            "lr_scheduler": ("constant", "linear", "cosine"),
            "mixed_precision": ("no", "bf16"),
            "save_dtype": ("float32", "bfloat16"),
            "tracker": ("tensorboard", "none"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {getattr(self, key)!r}")
        positive = ("batch_size", "grad_accum", "max_steps", "log_every", "checkpoint_every", "cache_shard_size")
        for key in positive:
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        if not (isinstance(self.lr, int | float) and 0 < self.lr < 1):
            raise ValueError(f"lr must be a number in (0, 1), got {self.lr!r}")
        if not 0.0 <= self.text_dropout <= 1.0:
            raise ValueError(f"text_dropout must be a probability in [0, 1], got {self.text_dropout}")
        if not 0.0 < self.boundary < 1.0:
            raise ValueError(f"boundary must be in (0, 1), got {self.boundary}")
        if self.source_noise is not None:
            lo, hi = (list(self.source_noise) + [None, None])[:2]
            if len(self.source_noise) != 2 or not 0 <= lo <= hi <= 1000:
                raise ValueError(
                    f"source_noise must be a timestep range [lo, hi] in [0, 1000], got {self.source_noise}"
                )
        if self.camera is not None and self.camera not in CAMERA_KINDS:
            raise ValueError(f"camera must be one of {', '.join(CAMERA_KINDS)}; got {self.camera!r}")
        if self.preset == "recammaster" and self.camera_kind != "extrinsics":
            raise ValueError("preset recammaster trains ReCamMaster's camera encoder: it needs camera: extrinsics")
        if self.dit is not None and self.model != "tiny":
            raise ValueError("dit sets the size of a model trained from scratch: it needs model: tiny")
        lo, hi = (list(self.scene_scale_range) + [0, 0])[:2]
        if len(self.scene_scale_range) != 2 or not 0 < lo <= hi:
            raise ValueError(f"scene_scale_range must be [lo, hi] with 0 < lo <= hi, got {self.scene_scale_range}")
        if self.camera_kind == "extrinsics" and self.model != "tiny":
            raise ValueError(
                "the extrinsics camera trains the kit's tiny ReCamMasterTransformer only (model: tiny); "
                "loading Wan2.1-T2V weights for it is not supported yet"
            )

    @property
    def camera_kind(self) -> str:
        """The camera condition: ``camera``, or when unset extrinsics for preset recammaster, else landmarks."""
        if self.camera is not None:
            return self.camera
        return "extrinsics" if self.preset == "recammaster" else "landmarks"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_value(text: str):
    """A ``--set key=value`` value: YAML (numbers, true/false, null, [lists]) or a plain string."""
    import yaml

    return yaml.safe_load(text)


def load_config(path, overrides: dict | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML (.yaml/.yml) or JSON file, with ``overrides`` on top."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path} (examples in configs/train/)")
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {e}") from None
    data = {**(data or {}), **(overrides or {})}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; the settings are TrainConfig's fields")
    try:
        return TrainConfig(**data)
    except TypeError as e:
        raise ValueError(f"{path}: {e}") from None
