"""The training run's settings: one :class:`TrainConfig`, read from a YAML or JSON file.

Every field has a default that trains the tiny model on CPU; ``configs/train/*.yaml`` are
examples (the tiny studio run, and the 14B-expert run of ``docs/training_at_scale.md``). A file
with an unknown key or a value of the wrong kind is a one-line error naming the key.

Taught in notebook 08 (training); notebook 04 (the training dataset) makes the data it reads.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facecam_kit.spec import BOUNDARY, CAMERA_KINDS, NUM_FRAMES, check_num_frames
from facecam_kit.userfiles import check_tree, read_config, short

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
    #: extrinsics only: append the target's and the source's intrinsics to each pose (20 values,
    #: IntrinsicsReCamMasterTransformer), so that zooms and pans can be said and trained (FaceCam-mini)
    camera_intrinsics: bool = False
    #: extrinsics only: metric (translations in the scene's units, as a dataset records them) | head
    #: (divided by the sample's scene_scale: a model told the scale, FaceCam-mini's control)
    camera_units: str = "metric"
    #: with model "tiny": WanTransformer3DModel arguments over tiny_dit_config, for a model of its own
    #: size trained from scratch, one transformer for all timesteps (FaceCam-mini, notebook 09)
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
    #: the dataset's rules (facecam_kit.data.dataset.RULES; docs/official_behaviour.md, section 8),
    #: e.g. {condition: per_frame, segments: random}; unset ones follow the official recipe, and with
    #: camera extrinsics no zoom or pan (data.dataset.NO_ZOOM_PAN: 12 numbers hold no intrinsics)
    data_options: dict = field(default_factory=dict)
    #: where the latents go (default: data_root/latents-<hash of the data settings>)
    cache_dir: str | None = None
    #: false: no cache, each sample encoded when drawn (the same numbers; for a few steps)
    latent_cache: bool = True
    cache_shard_size: int = 64
    #: torch threads once the data is ready (None: as the process started): train-mini builds the
    #: shared latent cache on every core, then trains that run on its share beside the others
    loop_threads: int | None = None
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
    #: gradient clipping by global norm (> 0); null: no clipping (the official FaceCam run)
    max_grad_norm: float | None = 1.0
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
        check_types(self)
        for key, (lo, hi) in BOUNDS.items():
            value = getattr(self, key)
            if value is not None and not lo <= value <= hi:
                raise ValueError(f"{key} must be in [{lo:g}, {hi:g}], got {short(value)}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(
                f"max_grad_norm must be > 0 (or null for no clipping), got {self.max_grad_norm}: a norm <= 0 "
                "flips or zeroes every gradient"
            )
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {short(self.betas)}")
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
        from facecam_kit.data.dataset import resolve_options  # the dataset checks its own rules

        resolve_options(self.data_kind, self.data_options, self.camera_kind, camera_intrinsics=self.camera_intrinsics)
        if self.camera_units not in ("metric", "head"):
            raise ValueError(f"camera_units must be metric or head, got {short(self.camera_units)}")
        if (self.camera_intrinsics or self.camera_units != "metric") and self.camera_kind != "extrinsics":
            raise ValueError(
                f"camera_intrinsics and camera_units: head change the extrinsic condition only; camera is "
                f"{self.camera_kind} (set camera: extrinsics, or leave them at false / metric)"
            )
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


#: inclusive ranges of the numeric settings (types are checked first, by :func:`check_types`)
BOUNDS = {
    "lora_rank": (1, 4096),
    "lora_alpha": (1e-6, 1e6),
    "logit_mean": (-10, 10),
    "logit_std": (1e-3, 10),
    "num_frames": (1, 4 * NUM_FRAMES + 1),
    "samples_per_item": (1, 100_000),
    "data_seed": (0, 2**63 - 1),
    "seed": (0, 2**63 - 1),
    "cache_shard_size": (1, 100_000),
    "loop_threads": (1, 4096),
    "batch_size": (1, 4096),
    "grad_accum": (1, 4096),
    "max_steps": (1, 10**8),
    "weight_decay": (0, 10),
    "lr_warmup_steps": (0, 10**8),
    "log_every": (1, 10**8),
    "checkpoint_every": (1, 10**8),
    "validate_every": (0, 10**8),
    "validation_steps": (1, 1000),
}


def _check_value(key: str, value, hint):
    """``value`` checked against the type ``hint`` (converted where YAML 1.1 reads a number as a
    string: ``1e-4``); TypeError-free: raises ValueError naming the key."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key} must be a list, got {short(value)}")
        items = [_check_value(f"{key}[{i}]", v, typing.get_args(hint)[0]) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if hint is float and isinstance(value, str):
        try:
            value = float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
        except ValueError:
            pass
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        str: lambda v: isinstance(v, str),
        dict: lambda v: isinstance(v, dict),
    }.get(hint, lambda v: True)  # an annotation without a rule here is checked by __post_init__
    if not ok(value):
        kind = {float: "a finite number", int: "a whole number", bool: "true or false"}.get(hint, f"a {hint.__name__}")
        raise ValueError(f"{key} must be {kind}, got {short(value)}")
    return float(value) if hint is float else value


def check_types(cfg: TrainConfig) -> None:
    """Every field of ``cfg`` of its annotated type (values converted in place where needed), and
    the mappings passed on as keyword arguments (:data:`KEYWORD_SETTINGS`) to any depth."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        setattr(cfg, f.name, _check_value(f.name, getattr(cfg, f.name), hints[f.name]))
    for key in ("dit", "make_studio"):
        if getattr(cfg, key) is not None:
            setattr(cfg, key, check_keywords(key, getattr(cfg, key)))


def _wan_transformer():
    from diffusers import WanTransformer3DModel  # ReCamMaster's transformers take its arguments too

    return WanTransformer3DModel.__init__


def _make_studio():
    from facecam_kit.data.studio import make_studio

    return make_studio


def _rig_cameras():
    from facecam_kit.data.studio import rig_cameras

    return rig_cameras


#: the settings (dotted: one inside another) whose mapping becomes keyword arguments: the
#: function taking them, and the arguments the caller gives it itself
KEYWORD_SETTINGS = {
    "dit": (_wan_transformer, ()),
    "make_studio": (_make_studio, ("out_dir", "progress")),
    "make_studio.rig": (_rig_cameras, ("rng", "num_cameras", "size")),
}


def check_keywords(key: str, value: dict) -> dict:
    """``value``, the setting ``key`` of :data:`KEYWORD_SETTINGS`, checked as the top-level settings
    are, to any depth: each key one of its function's parameters (less those the caller gives),
    each value of the type its annotation (or, without one, its default) says, a mapping of
    :data:`KEYWORD_SETTINGS` in turn; ValueError naming ``key.name``."""
    target, given = KEYWORD_SETTINGS[key]
    fn = target()
    params = {
        n: p
        for n, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in ("self", *given)
    }
    hints = typing.get_type_hints(fn)  # annotations written as strings (PEP 563) resolved
    checked = {}
    for name, v in value.items():
        if name not in params:
            raise ValueError(f"{key} has no setting {short(name)}; its settings are {', '.join(params)}")
        default = params[name].default
        hint = hints.get(name, type(default))
        if hint is tuple and default:  # an unannotated default such as (1.0, 1.0): numbers of its kind
            hint = tuple[type(default[0]), ...]
        checked[name] = v if hint is type(None) else _check_value(f"{key}.{name}", v, hint)
        if f"{key}.{name}" in KEYWORD_SETTINGS and isinstance(checked[name], dict):
            checked[name] = check_keywords(f"{key}.{name}", checked[name])
        lo = min(1, default) if isinstance(default, int) else 1  # a count or a size; a seed may be 0
        if hint is int and not lo <= checked[name] < 2**31:
            raise ValueError(f"{key}.{name} must be a whole number in [{lo}, 2**31), got {v}")
    return checked


def parse_value(text: str):
    """A ``--set key=value`` value: YAML (numbers, true/false, null, [lists]) or a plain string."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # not YAML: the string itself, type-checked with the rest
    check_tree(value, f"--set value {short(text)}")
    return value


def add_train_arguments(parser) -> None:
    """``CONFIG [--set KEY=VALUE ...]`` on an argparse parser: ``python -m facecam_kit train`` and
    ``python -m facecam_kit.train``."""
    parser.add_argument("config", help="a training configuration, YAML or JSON (configs/train/tiny_studio.yaml)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting (YAML value), e.g. --set max_steps=50 --set resume=latest",
    )


def parse_overrides(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items as a dict of parsed values (:func:`parse_value`)."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {short(item)}")
        overrides[key.strip()] = parse_value(value)
    return overrides


def load_config(path, overrides: dict | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML (.yaml/.yml) or JSON file, with ``overrides`` on top.

    Read with bounds (size, depth, YAML alias expansion: :func:`facecam_kit.userfiles.read_config`);
    every value type-checked and range-checked; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path} (examples in configs/train/)")
    data = {**read_config(path, "training config"), **(overrides or {})}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ValueError(
            f"{path}: unknown setting(s) {short(', '.join(unknown))}; the settings are TrainConfig's fields"
        )
    try:
        return TrainConfig(**data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
