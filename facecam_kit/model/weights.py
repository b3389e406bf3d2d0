"""Loading FaceCam's weights from local folders; nothing is ever downloaded.

Expected layout of a weights folder (``--weights DIR``), either a saved :class:`FaceCamPipeline`
(``DIR/model_index.json``, e.g. from ``save_pretrained``), or::

    DIR/
      Wan2.2-I2V-A14B-Diffusers/      the diffusers release: model_index.json, transformer/,
                                      transformer_2/, vae/, text_encoder/, tokenizer/
      facecam_high_noise/             the official FaceCam checkpoint folder of the high-noise expert
      facecam_low_noise/              ... and of the low-noise expert (*.safetensors / *.bin / *.pt / *.ckpt)

The FaceCam checkpoints use the original Wan (= DiffSynth) key layout; they are converted with
diffusers' own ``convert_wan_transformer_to_diffusers`` and loaded with ``strict=False``, and
the numbers of missing and unexpected keys are reported, as the official loader prints them.

Before anything is loaded, :func:`inspect_weights` reads every file's header (safetensors
metadata, no tensor) and compares the keys and shapes with what each model expects: an incomplete
folder, a corrupt file or unrelated keys are one-line errors, and more than ``MAX_MISSING_KEYS_SHARE``
of an expert's keys missing is refused unless ``allow_missing_keys``.

Taught in notebook 06 (loading real weights with ``WEIGHTS_DIR``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from facecam_kit.spec import MAX_MISSING_KEYS_SHARE
from facecam_kit.userfiles import parse_json, read_json, short

BASE = "Wan2.2-I2V-A14B-Diffusers"
EXPERTS = {"transformer": "facecam_high_noise", "transformer_2": "facecam_low_noise"}
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".ckpt")
_MODELS = {"transformer": "WanTransformer3DModel", "transformer_2": "WanTransformer3DModel", "vae": "AutoencoderKLWan"}
DOWNLOAD_HELP = f"""FaceCam needs local weights (nothing is downloaded at run time). Put them in one folder:

  DIR/{BASE}/      https://huggingface.co/Wan-AI/Wan2.2-I2V-A14B-Diffusers (the whole repository)
  DIR/{EXPERTS["transformer"]}/     the official FaceCam high-noise expert checkpoint folder
  DIR/{EXPERTS["transformer_2"]}/      the official FaceCam low-noise expert checkpoint folder
                                        (github.com/weijielyu/FaceCam, see its README for the links)

then pass --weights DIR. A pipeline saved with FaceCamPipeline.save_pretrained(DIR) works too."""

# diffusers name -> original Wan / DiffSynth name (docs/official_behaviour.md, section 2, key map), for sub-strings
_TO_ORIGINAL = [
    (r"condition_embedder\.time_embedder\.linear_1", "time_embedding.0"),
    (r"condition_embedder\.time_embedder\.linear_2", "time_embedding.2"),
    (r"condition_embedder\.text_embedder\.linear_1", "text_embedding.0"),
    (r"condition_embedder\.text_embedder\.linear_2", "text_embedding.2"),
    (r"condition_embedder\.time_proj", "time_projection.1"),
    (r"condition_embedder\.image_embedder\.norm1", "img_emb.proj.0"),
    (r"condition_embedder\.image_embedder\.ff\.net\.0\.proj", "img_emb.proj.1"),
    (r"condition_embedder\.image_embedder\.ff\.net\.2", "img_emb.proj.3"),
    (r"condition_embedder\.image_embedder\.norm2", "img_emb.proj.4"),
    (r"^scale_shift_table$", "head.modulation"),
    (r"^proj_out\.", "head.head."),
    (r"\.attn1\.to_out\.0\.", ".self_attn.o."),
    (r"\.attn1\.to_([qkv])\.", r".self_attn.\1."),
    (r"\.attn1\.norm_([qk])\.", r".self_attn.norm_\1."),
    (r"\.attn2\.to_out\.0\.", ".cross_attn.o."),
    (r"\.attn2\.to_([qkv])\.", r".cross_attn.\1."),
    (r"\.attn2\.add_k_proj\.", ".cross_attn.k_img."),
    (r"\.attn2\.add_v_proj\.", ".cross_attn.v_img."),
    (r"\.attn2\.norm_added_k\.", ".cross_attn.norm_k_img."),
    (r"\.attn2\.norm_([qk])\.", r".cross_attn.norm_\1."),
    (r"\.norm2\.", ".norm3."),  # the affine norm before cross-attention: norm2 in diffusers, norm3 in Wan
    (r"\.ffn\.net\.0\.proj\.", ".ffn.0."),
    (r"\.ffn\.net\.2\.", ".ffn.2."),
    (r"\.scale_shift_table$", ".modulation"),
]


def to_original_layout(state_dict: dict) -> dict:
    """diffusers ``WanTransformer3DModel`` keys -> the original Wan / DiffSynth layout (FaceCam's)."""
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _TO_ORIGINAL:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def to_diffusers_layout(state_dict: dict) -> dict:
    """Original Wan / DiffSynth keys -> diffusers, with diffusers' own converter.

    A bare ``model.`` prefix (DiffSynth checkpoints) is stripped first; diffusers strips only
    ``model.diffusion_model.``.
    """
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    sd = {
        (k[len("model.") :] if k.startswith("model.") and not k.startswith("model.diffusion_model.") else k): v
        for k, v in state_dict.items()
    }
    return convert_wan_transformer_to_diffusers(sd)


def _checkpoint_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) in {folder}\n\n{DOWNLOAD_HELP}"
        )
    return files


def _corrupt(path: Path, why: str) -> ValueError:
    return ValueError(f"corrupt weights file {path}: {why}; download or copy it again")


#: the safetensors library's own limit on a header (its format allows no more)
MAX_HEADER_BYTES = 100_000_000
#: no tensor of a real model has more elements (a 14B model's largest has about 2**30)
MAX_TENSOR_ELEMENTS = 2**40


def _shape(value) -> tuple[int, ...]:
    """A stored shape as a tuple of ints, or TypeError/ValueError when it is not one a tensor can have."""
    if not isinstance(value, list) or len(value) > 8:
        raise TypeError("a shape must be a short list")
    dims = tuple(d for d in value if isinstance(d, int) and not isinstance(d, bool) and 0 <= d)
    if len(dims) != len(value) or math.prod(dims) > MAX_TENSOR_ELEMENTS:
        raise ValueError(f"impossible shape {short(value)}")
    return dims


def read_safetensors_header(path) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes stored in a .safetensors file, from its header only.

    The header is read only when its claimed length is at most ``MAX_HEADER_BYTES`` and within the
    file, and parsed with a depth limit, so a hostile header costs no more memory than that.
    Raises ValueError naming the file when the header is unreadable, a shape is impossible
    (negative, overflowing) or the data is cut short.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        n = int.from_bytes(raw, "little") if len(raw) == 8 else -1
        if not 2 <= n <= min(size - 8, MAX_HEADER_BYTES):
            raise _corrupt(
                path,
                f"not a safetensors file, or cut short (a header of {n:,} bytes claimed, file of {size:,}, "
                f"at most {MAX_HEADER_BYTES:,} allowed)",
            )
        try:
            header = parse_json(f.read(n).decode("utf-8"), "header")
            entries = {k: v for k, v in header.items() if k != "__metadata__"}
            shapes = {k: _shape(v["shape"]) for k, v in entries.items()}
            end = max((int(v["data_offsets"][1]) for v in entries.values()), default=0)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            raise _corrupt(path, f"unreadable header ({type(e).__name__}: {short(str(e), 120)})") from None
    if 8 + n + end > size:
        raise _corrupt(path, f"truncated ({size} bytes, the header needs {8 + n + end})")
    return shapes


def safe_torch_load(path, **kwargs):
    """The one way the kit reads a torch pickle from a folder a user points to (*.bin, *.pt, *.ckpt,
    a training checkpoint's RNG state): ``weights_only=True`` with accelerate's allow-list of
    numpy's arrays, so tensors, numbers, strings and arrays load and a crafted file's code never
    runs. ValueError naming the file for anything else."""
    import pickle

    from accelerate.utils.other import TORCH_SAFE_GLOBALS

    try:
        with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS):
            return torch.load(path, weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))  # torch's wording: "unsupported GLOBAL posix.mkdir"
        what = found.group(1) if found else "a pickled object"
        raise ValueError(
            f"code to run ({what}) in {Path(path).name}: the kit loads tensors, numbers and arrays only, never "
            "code from a file; use a file the kit or the official code wrote"
        ) from None


def checkpoint_shapes(folder) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every tensor in a checkpoint folder, without reading the tensors
    (safetensors headers; other formats memory-mapped)."""
    shapes = {}
    for p in _checkpoint_files(Path(folder)):
        if p.suffix == ".safetensors":
            shapes.update(read_safetensors_header(p))
            continue
        try:
            loaded = safe_torch_load(p, map_location="cpu", mmap=True)
        except Exception as e:  # pickle, zip and torch errors alike: the file is unusable
            raise _corrupt(p, str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        sd = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else {}
        shapes.update({k: tuple(v.shape) for k, v in sd.items() if isinstance(v, torch.Tensor)})
    return shapes


def read_checkpoint_folder(folder) -> dict:
    """Every *.safetensors / *.bin / *.pt / *.ckpt file in a folder, merged (as the official loader)."""
    sd = {}
    for p in _checkpoint_files(Path(folder)):
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            read_safetensors_header(p)  # a one-line error for a corrupt file
            sd.update(load_file(p))
        else:
            loaded = safe_torch_load(p, map_location="cpu")
            sd.update(loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded)
    return sd


def load_checkpoint_into(transformer, folder, name: str = "transformer") -> tuple[int, int]:
    """Load an original-layout FaceCam checkpoint folder into a diffusers transformer (strict=False).

    Returns (missing, unexpected) key counts and prints them, like the official loader.
    """
    result = transformer.load_state_dict(to_diffusers_layout(read_checkpoint_folder(folder)), strict=False)
    missing, unexpected = len(result.missing_keys), len(result.unexpected_keys)
    print(f"{name}: loaded {folder} ({missing} missing keys, {unexpected} unexpected keys)")
    return missing, unexpected


@dataclass
class ComponentCheck:
    """How a component's stored keys match its model: counts, and a few names of each kind."""

    name: str
    source: Path
    expected: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.name}: {self.source} ({len(self.missing)} of {self.expected} keys missing, "
            f"{len(self.unexpected)} unexpected"
            + (f", {len(self.mismatched)} with another shape" if self.mismatched else "")
            + ")"
        )


@dataclass
class WeightsReport:
    """What :func:`inspect_weights` found: the layout ("saved pipeline" or "official") and each
    checked component."""

    root: Path
    layout: str
    components: list[ComponentCheck]

    @property
    def missing_keys(self) -> int:
        return sum(len(c.missing) for c in self.components)

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "components": {
                c.name: {"expected": c.expected, "missing": len(c.missing), "unexpected": len(c.unexpected)}
                for c in self.components
            },
        }


def _expected_shapes(model_cls, folder: Path) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of the model a folder's config.json describes (built on the meta device)."""
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"weights folder {folder} has no config.json\n\n{DOWNLOAD_HELP}")
    config = read_json(folder / "config.json", "model config")
    if not isinstance(config, dict):
        raise ValueError(f"{folder / 'config.json'} must be a JSON object of a {model_cls.__name__}'s settings")
    try:
        with torch.device("meta"):
            model = model_cls.from_config(model_cls.load_config(folder))
    except Exception as e:  # diffusers and torch raise many kinds on a config that is not theirs
        why = short(str(e).splitlines()[0] if str(e) else type(e).__name__, 160)
        raise ValueError(f"{folder / 'config.json'} does not describe a {model_cls.__name__}: {why}") from None
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_saved_model(folder, cls_name: str, flag: str) -> ComponentCheck:
    """From headers only: ``folder`` (a diffusers ``save_pretrained``) holds a ``cls_name`` whose
    config builds and whose weights have every key in its shape; ValueError naming ``flag`` (a
    truncated or garbage file, another model's weights) before anything is loaded or copied."""
    import diffusers

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{flag} {folder} is not a saved {cls_name} (no config.json): give its save_pretrained folder"
        )
    expected = _expected_shapes(getattr(diffusers, cls_name), folder)
    check = _compare(flag, folder, expected, _diffusers_weights(folder))
    if check.missing or check.mismatched:
        raise ValueError(f"{flag} {folder} is not a whole {cls_name}: {check.line()}; give a folder saved whole")
    return check


def _compare(name: str, source: Path, expected: dict, stored: dict) -> ComponentCheck:
    return ComponentCheck(
        name,
        source,
        len(expected),
        sorted(set(expected) - set(stored)),
        sorted(set(stored) - set(expected)),
        sorted(k for k in set(expected) & set(stored) if tuple(expected[k]) != tuple(stored[k])),
    )


def _diffusers_weights(folder: Path) -> dict[str, tuple[int, ...]]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        _checkpoint_files(folder)  # the "no checkpoint files" error, or .bin files
        return checkpoint_shapes(folder)
    shapes = {}
    for p in files:
        shapes.update(read_safetensors_header(p))
    return shapes


def _refuse(check: ComponentCheck, root: Path, hint: str) -> ValueError:
    some = ", ".join((check.missing or check.mismatched)[:2])
    return ValueError(f"weights in {root} do not fit the model: {check.line()}, e.g. {some}. {hint}\n\n{DOWNLOAD_HELP}")


def inspect_weights(weights_dir, allow_missing_keys: bool = False) -> WeightsReport:
    """Check a weights folder (layout in the module docstring) from its files' headers, loading no
    tensor: every expected file is there and readable, and every model's keys and shapes are
    stored. A saved pipeline must be complete; an official expert checkpoint may miss at most
    ``MAX_MISSING_KEYS_SHARE`` of its keys (any share with ``allow_missing_keys``; they keep the
    base weights). Raises FileNotFoundError / ValueError naming the folder or file and the counts.
    """
    import diffusers

    root = Path(weights_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"weights folder not found: {root}\n\n{DOWNLOAD_HELP}")
    checks = []
    if (root / "model_index.json").is_file():
        index = read_json(root / "model_index.json", "pipeline index")
        if not isinstance(index, dict):
            raise _corrupt(root / "model_index.json", "not a JSON object of components (save the pipeline again)")
        for sub, cls_name in _MODELS.items():
            entry = index.get(sub)
            if entry is not None and not (isinstance(entry, list) and len(entry) == 2):
                why = f"{sub!r} must be a [library, class] pair, not {short(entry, 60)}"
                raise _corrupt(root / "model_index.json", why)
            if (entry or [None, None])[1] is None:
                continue
            folder = root / sub
            expected = _expected_shapes(getattr(diffusers, cls_name), folder)
            check = _compare(sub, folder, expected, _diffusers_weights(folder))
            if check.missing or check.mismatched:
                raise _refuse(check, root, "A saved pipeline must hold every key of its models; save it again.")
            checks.append(check)
        return WeightsReport(root, "saved pipeline", checks)

    base = root / BASE
    missing = [
        str(p)
        for p in [base / "model_index.json", *(base / d for d in (*_MODELS, "text_encoder", "tokenizer"))]
        + [root / d for d in EXPERTS.values()]
        if not p.exists()
    ]
    if missing:
        raise FileNotFoundError(
            f"weights folder {root} is incomplete; missing: {', '.join(missing)}\n\n{DOWNLOAD_HELP}"
        )
    for sub, cls_name in _MODELS.items():
        expected = _expected_shapes(getattr(diffusers, cls_name), base / sub)
        check = _compare(f"{BASE}/{sub}", base / sub, expected, _diffusers_weights(base / sub))
        if check.missing or check.mismatched:
            raise _refuse(check, root, f"The base model in {base} is incomplete; download it again.")
        if sub in EXPERTS:
            stored = {k: torch.empty(v, device="meta") for k, v in checkpoint_shapes(root / EXPERTS[sub]).items()}
            stored = {k: tuple(v.shape) for k, v in to_diffusers_layout(stored).items()}
            expert = _compare(sub, root / EXPERTS[sub], expected, stored)
            too_many = len(expert.missing) > MAX_MISSING_KEYS_SHARE * expert.expected
            if expert.mismatched or (too_many and not allow_missing_keys):
                raise _refuse(
                    expert,
                    root,
                    f"Over {MAX_MISSING_KEYS_SHARE:.0%} of the keys missing: is this FaceCam's {sub} expert "
                    f"(original Wan key layout)? --allow-missing-keys runs anyway (base weights for those)",
                )
            checks.append(expert)
    _diffusers_weights(base / "text_encoder")  # its files' headers read
    return WeightsReport(root, "official", checks)


def load_pipeline(
    weights_dir,
    torch_dtype: torch.dtype = torch.float32,
    allow_missing_keys: bool = False,
    report: WeightsReport | None = None,
):
    """A FaceCamPipeline from a local weights folder (layout in the module docstring).

    Checked first with :func:`inspect_weights` (pass its ``report`` to skip a second look).
    """
    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    report = report or inspect_weights(weights_dir, allow_missing_keys)
    root = Path(weights_dir)
    if report.layout == "saved pipeline":
        return FaceCamPipeline.from_pretrained(root, dtype=torch_dtype)
    base = root / BASE
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5EncoderModel

    kw = dict(dtype=torch_dtype, local_files_only=True)
    parts = {sub: WanTransformer3DModel.from_pretrained(base, subfolder=sub, **kw) for sub in EXPERTS}
    for sub, model in parts.items():
        load_checkpoint_into(model, root / EXPERTS[sub], sub)
    return FaceCamPipeline(
        parts["transformer"],
        AutoencoderKLWan.from_pretrained(base, subfolder="vae", **kw),
        make_scheduler(),
        parts["transformer_2"],
        UMT5EncoderModel.from_pretrained(base, subfolder="text_encoder", **kw),
        AutoTokenizer.from_pretrained(base, subfolder="tokenizer", local_files_only=True),
    )
