"""The shipped FaceCam-mini models: where they are, how to load them as pipelines, how they are written.

Layout of ``data_samples/facecam_mini/`` (made by ``python -m facecam_kit train-mini``,
:mod:`facecam_kit.mini.recipe`)::

    landmarks/           a FaceCamPipeline folder (``render --weights`` loads it): transformer/, vae/, scheduler/
    plucker/transformer/     the Plücker-ray DiT (WanTransformer3DModel, 22 input channels)
    extrinsics/transformer/  the extrinsics DiT (ReCamMasterTransformer, 16 input channels + camera encoder)
    provenance.json      command, commit, seeds, settings, timings, loss curves
    README.md            the same, for people

The three DiTs share the VAE in ``landmarks/vae``. Everything is stored in float32, as trained.

Taught in notebook 09 (FaceCam-mini); used by notebook 06's Generate button and ``make demo``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch

from facecam_kit.assets import DATA_DIR
from facecam_kit.spec import CAMERA_KINDS

MINI_DIR = DATA_DIR / "facecam_mini"
LABEL = "FaceCam-mini, trained on synthetic heads"
OUTSIDE_LABEL = "FaceCam-mini outside its domain (trained on synthetic heads)"
#: what the Generate button and the demo ask of FaceCam-mini: the frames it was trained on
#: (recipe.NUM_FRAMES; longer clips fall outside what it learnt), denoising steps; its size is recipe.SIZE
GENERATE_FRAMES, GENERATE_STEPS = 9, 20


def missing_files(root: Path = MINI_DIR) -> list[str]:
    """The files of the layout that ``root`` lacks (empty when complete)."""
    need = ["provenance.json", "landmarks/model_index.json", "landmarks/vae/config.json"]
    need += [f"{k}/transformer/config.json" for k in CAMERA_KINDS]
    return [n for n in need if not (Path(root) / n).is_file()]


def load_mini_pipeline(camera_kind: str = "landmarks", root: Path = MINI_DIR):
    """A FaceCamPipeline with FaceCam-mini's ``camera_kind`` DiT and the mini VAE, in float32 on the CPU."""
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from facecam_kit.baselines.recammaster import ReCamMasterTransformer
    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    root = Path(root)
    if camera_kind not in CAMERA_KINDS:
        raise ValueError(f"camera_kind must be one of {', '.join(CAMERA_KINDS)}, got {camera_kind!r}")
    if missing := missing_files(root):
        raise FileNotFoundError(
            f"FaceCam-mini is incomplete in {root}: missing {', '.join(missing)}; "
            "make it with `python -m facecam_kit train-mini`"
        )
    cls = ReCamMasterTransformer if camera_kind == "extrinsics" else WanTransformer3DModel
    transformer = cls.from_pretrained(root / camera_kind / "transformer", torch_dtype=torch.float32)
    vae = AutoencoderKLWan.from_pretrained(root / "landmarks" / "vae", torch_dtype=torch.float32)
    pipe = FaceCamPipeline(transformer.eval(), vae.eval(), make_scheduler(), camera_kind=camera_kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def text_embeddings(pipe, batch: int = 1) -> torch.Tensor:
    """The prompt embedding FaceCam-mini was trained with (zeros: it has no text encoder), (B, 16, D)."""
    return torch.zeros(batch, 16, pipe.transformer.config.text_dim)


def save_mini(out: Path, vae, transformers: dict[str, Path], provenance: dict) -> Path:
    """Write the layout above into ``out``, replacing it whole (written beside it, then renamed).

    vae: the trained AutoencoderKLWan; transformers: kind -> a saved transformer folder (float32);
    provenance: written to provenance.json and summarised in README.md.
    """
    from diffusers import WanTransformer3DModel

    from facecam_kit.baselines.recammaster import ReCamMasterTransformer
    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # never a user's name
    models = {}
    for kind, folder in transformers.items():
        cls = ReCamMasterTransformer if kind == "extrinsics" else WanTransformer3DModel
        models[kind] = cls.from_pretrained(folder)
    FaceCamPipeline(models["landmarks"], vae, make_scheduler(), camera_kind="landmarks").save_pretrained(
        tmp / "landmarks"
    )
    for kind in ("plucker", "extrinsics"):
        models[kind].save_pretrained(tmp / kind / "transformer")
    (tmp / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    (tmp / "README.md").write_text(readme(provenance))
    old = out.with_name(f"{tmp.name}.old")
    if out.exists():
        out.rename(old)  # the earlier export (the caller checked it is one: provenance.json)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def readme(p: dict) -> str:
    """data_samples/facecam_mini/README.md: the provenance in words."""
    s, sec = p["settings"], p["seconds"]
    rows = "\n".join(
        f"| `{k}` | {r['history'][-1]['loss']:.4f} | {sec.get(k, 0) / 60:.1f} min |" for k, r in p["dits"].items()
    )
    return f"""# FaceCam-mini: provenance

Made by the kit's own code: `{p["command"]}` (`facecam_kit/mini/recipe.py`), at commit
`{p["commit"]}`, on a CPU. Nothing here comes from outside the kit: the heads are the synthetic
studio of `facecam_kit/data/studio.py`, textured from the bundled public-domain portrait
(`data_samples/README.md`).

- **Data**: {s["train_heads"]} training heads (seed {p["seeds"]["studio"]}), {s["cameras"]} cameras,
  {s["capture_frames"]} frames at {s["size"]}x{s["size"]}; training triplets of {s["num_frames"]} frames with
  scale augmentation, zoom/pan, 1-4 clip stitching, background colours and a random scene scale in
  {s["scene_scale_range"]}; {s["test_heads"]} more heads (seed {p["seeds"]["held_out_heads"]}) are held out.
- **VAE** (`landmarks/vae`): AutoencoderKLWan, 16 base channels, {s["vae_steps"]} steps in
  {sec["vae"] / 60:.1f} min; reconstruction PSNR {p["vae"]["psnr_train_db"]} dB on training clips,
  {p["vae"]["psnr_held_out_db"]} dB on the held-out heads.
- **DiTs**: three WanTransformer3DModel of the same size ({s["dit"]["num_layers"]} layers,
  {s["dit"]["num_attention_heads"]} heads of {s["dit"]["attention_head_dim"]}), data, steps
  ({s["dit_steps"]}, batch {s["dit_batch"]}, lr {s["dit_lr"]}) and seed ({p["seeds"]["training"]}), differing
  only in the camera condition: `landmarks` (FaceCam), `extrinsics` (ReCamMaster), `plucker`
  (FactorPortrait). Stored in float32, as trained.

| model | final training loss | training time |
|---|---:|---:|
{rows}

The first DiT's time includes encoding the latent cache that all three share; the studios took
{sec["studios"] / 60:.1f} min. Every loss curve (per 10 steps) is in `provenance.json`.
`tests/test_mini.py` loads these files and re-runs the first training steps from the same seed
against the recorded curve.
"""
