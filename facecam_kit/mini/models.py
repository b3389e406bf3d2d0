"""The shipped FaceCam-mini models: where they are, how to load them as pipelines, how they are written.

Layout of ``data_samples/facecam_mini/`` (made by ``python -m facecam_kit train-mini``,
:mod:`facecam_kit.mini.recipe`)::

    landmarks/           a FaceCamPipeline folder (``render --weights`` loads it): transformer/, vae/, scheduler/
    <arm>/transformer/   every other arm's DiT: plucker (WanTransformer3DModel, 22 input channels),
                         extrinsics (ReCamMasterTransformer, or told the intrinsics
                         IntrinsicsReCamMasterTransformer), extrinsics_told, ...
    provenance.json      command, commit, recipe (its ``arms``: each arm's camera), timings, loss curves
    results.json         the scale experiment's per-scene scores of every row and seed (scale recipes)
    README.md            the same, for people

The DiTs share the VAE in ``landmarks/vae``. Everything is stored in float32, as trained. The
shipped models are the scale recipe's (``recipe.SHIPPED``): four arms, the first training seed of each.

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
#: the denoising steps the Generate button and the demo ask of FaceCam-mini (its frames and size:
#: recipe.GENERATE_FRAMES, recipe.SIZE)
GENERATE_STEPS = 20


def arms(root: Path = MINI_DIR) -> dict[str, dict]:
    """The arms of the models in ``root``: arm name -> its TrainConfig camera settings (``camera``, ...),
    from ``provenance.json`` (the three camera kinds when it names no recipe or is missing)."""
    path = Path(root) / "provenance.json"
    recipe = json.loads(path.read_text()).get("recipe", {}) if path.is_file() else {}
    return recipe.get("arms") or {kind: {"camera": kind} for kind in CAMERA_KINDS}


def missing_files(root: Path = MINI_DIR) -> list[str]:
    """The files of the layout that ``root`` lacks (empty when complete)."""
    need = ["provenance.json", "landmarks/model_index.json", "landmarks/vae/config.json"]
    need += [f"{arm}/transformer/config.json" for arm in arms(root)]
    return [n for n in need if not (Path(root) / n).is_file()]


def transformer_class(folder: Path):
    """The class a saved transformer folder holds (its config's ``_class_name``)."""
    from diffusers import WanTransformer3DModel

    from facecam_kit.baselines import recammaster as rc

    made = (WanTransformer3DModel, rc.ReCamMasterTransformer, rc.IntrinsicsReCamMasterTransformer)
    classes = {c.__name__: c for c in made}
    name = json.loads((Path(folder) / "config.json").read_text()).get("_class_name")
    if name not in classes:
        raise ValueError(f"{folder}: transformer class {name!r} is not one FaceCam-mini makes ({', '.join(classes)})")
    return classes[name]


def load_mini_pipeline(arm: str = "landmarks", root: Path = MINI_DIR):
    """A FaceCamPipeline with FaceCam-mini's ``arm`` DiT (its camera kind from :func:`arms`) and the mini
    VAE, in float32 on the CPU."""
    root = Path(root)
    known = arms(root)
    if arm not in known:
        raise ValueError(f"arm must be one of {', '.join(known)}, got {arm!r}")
    if missing := missing_files(root):
        raise FileNotFoundError(
            f"FaceCam-mini is incomplete in {root}: missing {', '.join(missing)}; "
            "make it with `python -m facecam_kit train-mini`"
        )
    return pipeline_from(root / arm / "transformer", root / "landmarks" / "vae", known[arm]["camera"])


def pipeline_from(transformer: Path, vae: Path, camera_kind: str):
    """A float32 FaceCamPipeline on the CPU from a saved transformer folder and a saved VAE folder."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    model = transformer_class(transformer).from_pretrained(transformer, torch_dtype=torch.float32)
    vae = AutoencoderKLWan.from_pretrained(vae, torch_dtype=torch.float32)
    pipe = FaceCamPipeline(model.eval(), vae.eval(), make_scheduler(), camera_kind=camera_kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def text_embeddings(pipe, batch: int = 1) -> torch.Tensor:
    """The prompt embedding FaceCam-mini was trained with (zeros: it has no text encoder), (B, 16, D)."""
    return torch.zeros(batch, 16, pipe.transformer.config.text_dim)


def save_mini(out: Path, vae, transformers: dict[str, Path], provenance: dict, results: dict | None = None) -> Path:
    """Write the layout above into ``out``, replacing it whole (written beside it, then renamed).

    vae: the trained AutoencoderKLWan; transformers: arm -> a saved transformer folder (float32),
    ``landmarks`` among them; provenance: written to provenance.json and summarised in README.md;
    results: the scale experiment's (``stages.evaluate_mini``), written to results.json.
    """
    from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # never a user's name
    models = {arm: transformer_class(folder).from_pretrained(folder) for arm, folder in transformers.items()}
    FaceCamPipeline(models["landmarks"], vae, make_scheduler(), camera_kind="landmarks").save_pretrained(
        tmp / "landmarks"
    )
    for arm, model in models.items():
        if arm != "landmarks":
            model.save_pretrained(tmp / arm / "transformer")
    (tmp / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    (tmp / "README.md").write_text(readme(provenance))
    if results is not None:
        (tmp / "results.json").write_text(json.dumps(results) + "\n")
    old = out.with_name(f"{tmp.name}.old")
    if out.exists():
        out.rename(old)  # the earlier export (the caller checked it is one: provenance.json)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def readme(p: dict) -> str:
    """data_samples/facecam_mini/README.md: the provenance in words."""
    r, sec, vae = p["recipe"], p["seconds"], p["vae"]
    rows = "\n".join(
        f"| `{name}` | {d['history'][-1]['loss']:.4f} | {sec.get(name, 0) / 60:.1f} min |"
        for name, d in p["dits"].items()
    )
    gate = vae.get("gate")
    gate_line = (
        f"gate {'passed' if gate['passed'] else 'FAILED'}: round trips of held-out targets "
        f"{gate['psnr_targets_db']} dB, of their conditions {gate['psnr_conditions_db']} dB, faces found in "
        f"{gate['detect_round_trip']:.0%} of round trips (ground truth {gate['detect_truth']:.0%})"
        if gate
        else f"held-out PSNR {vae.get('psnr_held_out_db')} dB"
    )
    # a VAE stage reused with --vae was trained at its own commit: say so rather than imply the run's
    reused = (
        f" (trained at commit `{vae['commit']}`, reused with `--vae`)"
        if vae.get("commit", p["commit"]) != p["commit"]
        else ""
    )
    arms_text = ", ".join(f"`{a}` ({', '.join(f'{k}: {v}' for k, v in s.items())})" for a, s in r["arms"].items())
    return f"""# FaceCam-mini: provenance

Made by the kit's own code: `{p["command"]}` (`facecam_kit/mini/recipe.py`, recipe `{r["name"]}`), at
commit `{p["commit"]}`, on a CPU. Nothing here comes from outside the kit: the heads are the synthetic
studio of `facecam_kit/data/studio.py`, textured from the bundled public-domain portrait
(`data_samples/README.md`).

- **Data**: {r["train_heads"]} training heads (seed {r["studio_seed"]}), {r["cameras"]} cameras ({r["rig"]} rig),
  {r["capture_frames"]} frames at {r["size"]}x{r["size"]}; training triplets of {r["num_frames"]} frames by the
  {r["rules"]} rules and a random scene scale in {r["scene_scale_range"]}; held-out heads from seed {r["test_seed"]}.
- **VAE** (`landmarks/vae`): AutoencoderKLWan, {r["vae_steps"]} steps in {sec["vae"] / 60:.1f} min{reused};
  training-clip PSNR {vae["psnr_train_db"]} dB; {gate_line}.
- **DiTs**: WanTransformer3DModel of one size ({r["dit"]["num_layers"]} layers, {r["dit"]["num_attention_heads"]}
  heads of {r["dit"]["attention_head_dim"]}), data, steps ({r["dit_steps"]}, batch {r["dit_batch"]},
  lr {r["dit_lr"]}), differing only in the camera condition: {arms_text}; seeds {r["seeds"]}, the first
  shipped. Stored in float32, as trained.

| run | final training loss | training time |
|---|---:|---:|
{rows}

The first DiT's time includes encoding the latent cache that all share; all of them took
{sec["dits"] / 60:.1f} min of wall time, two at a time, and the studio {sec["studios"] / 60:.1f} min.
Every loss curve (per logged step) is in `provenance.json`.
"""
