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

Taught in notebook 06 (loading real weights with ``WEIGHTS_DIR``).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

BASE = "Wan2.2-I2V-A14B-Diffusers"
EXPERTS = {"transformer": "facecam_high_noise", "transformer_2": "facecam_low_noise"}
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".ckpt")
DOWNLOAD_HELP = f"""FaceCam needs local weights (nothing is downloaded at run time). Put them in one folder:

  DIR/{BASE}/      https://huggingface.co/Wan-AI/Wan2.2-I2V-A14B-Diffusers (the whole repository)
  DIR/{EXPERTS["transformer"]}/     the official FaceCam high-noise expert checkpoint folder
  DIR/{EXPERTS["transformer_2"]}/      the official FaceCam low-noise expert checkpoint folder
                                        (github.com/weijielyu/FaceCam, see its README for the links)

then pass --weights DIR. A pipeline saved with FaceCamPipeline.save_pretrained(DIR) works too."""

# diffusers name -> original Wan / DiffSynth name (the reference doc's key map), for sub-strings
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


def read_checkpoint_folder(folder) -> dict:
    """Every *.safetensors / *.bin / *.pt / *.ckpt file in a folder, merged (as the official loader)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix in CHECKPOINT_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)}) in {folder}\n\n{DOWNLOAD_HELP}"
        )
    sd = {}
    for p in files:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd.update(load_file(p))
        else:
            loaded = torch.load(p, map_location="cpu", weights_only=True)
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


def load_pipeline(weights_dir, torch_dtype: torch.dtype = torch.float32):
    """A FaceCamPipeline from a local weights folder (layout in the module docstring)."""
    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    root = Path(weights_dir)
    if (root / "model_index.json").is_file():
        return FaceCamPipeline.from_pretrained(root, dtype=torch_dtype)
    base = root / BASE
    missing = [str(p) for p in [base / "model_index.json", *(root / d for d in EXPERTS.values())] if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"weights folder {root} is incomplete; missing: {', '.join(missing)}\n\n{DOWNLOAD_HELP}"
        )
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
