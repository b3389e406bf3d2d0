"""The shipped FaceCam-mini models: where they are, how to load them as pipelines, how they are written.

Layout of ``data_samples/facecam_mini/`` (made by ``python -m facecam_kit train-mini``,
:mod:`facecam_kit.mini.stages`)::

    landmarks/           a FaceCamMiniPipeline folder (``render --weights`` loads it): unet/, vae/, scheduler/
    <arm>/unet/          every other arm's network (mini.unet.MiniUNet): plucker (6 channels of rays),
                         extrinsics (20 numbers: poses and intrinsics), extrinsics_told (in head units)
    provenance.json      command, commit, recipe (its ``arms``: each arm's camera), timings, loss curves
    results.json         the scale experiment's per-scene scores of every row and seed
    README.md            the same, for people

The networks share the VAE in ``landmarks/vae`` (float32). The networks are stored in float16 and
loaded in float32: every number the kit reports of them (``results.json``, the gate) is of these
rounded weights (:func:`shipped_precision`). The first training seed of each arm is shipped.

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


def arms(root: Path = MINI_DIR) -> dict[str, dict]:
    """The arms of the models in ``root``: arm name -> its camera settings (``camera``, ...), from
    ``provenance.json`` (the three camera kinds when it names no recipe or is missing)."""
    path = Path(root) / "provenance.json"
    recipe = json.loads(path.read_text()).get("recipe", {}) if path.is_file() else {}
    return recipe.get("arms") or {kind: {"camera": kind} for kind in CAMERA_KINDS}


def missing_files(root: Path = MINI_DIR) -> list[str]:
    """The files of the layout that ``root`` lacks (empty when complete)."""
    need = ["provenance.json", "landmarks/model_index.json", "landmarks/vae/config.json"]
    need += [f"{arm}/unet/config.json" for arm in arms(root)]
    return [n for n in need if not (Path(root) / n).is_file()]


def load_mini_pipeline(arm: str = "landmarks", root: Path = MINI_DIR):
    """A FaceCamMiniPipeline of FaceCam-mini's ``arm`` (its camera kind from :func:`arms`) and the
    mini VAE, in float32 on the CPU."""
    root = Path(root)
    known = arms(root)
    if arm not in known:
        raise ValueError(f"arm must be one of {', '.join(known)}, got {arm!r}")
    if missing := missing_files(root):
        raise FileNotFoundError(
            f"FaceCam-mini is incomplete in {root}: missing {', '.join(missing)}; "
            "make it with `python -m facecam_kit train-mini`"
        )
    return mini_pipeline(root / arm / "unet", root / "landmarks" / "vae", known[arm]["camera"])


def mini_pipeline(unet: Path, vae: Path, camera_kind: str, rounded: bool = False):
    """A float32 FaceCamMiniPipeline on the CPU from a saved network folder and a saved VAE folder;
    ``rounded``: the network's weights as shipped (:func:`shipped_precision`)."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.pipeline import FaceCamMiniPipeline, make_mini_scheduler
    from facecam_kit.mini.unet import MiniUNet

    net = MiniUNet.from_pretrained(unet, torch_dtype=torch.float32)
    net = shipped_precision(net) if rounded else net
    vae = AutoencoderKLWan.from_pretrained(vae, torch_dtype=torch.float32)
    pipe = FaceCamMiniPipeline(net.eval(), vae.eval(), make_mini_scheduler(), camera_kind=camera_kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def shipped_precision(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` (float32) with its weights rounded through float16, as :func:`save_mini` stores them."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16))
    return model


def save_mini(out: Path, vae, unets: dict[str, Path], provenance: dict, results: dict | None = None) -> Path:
    """Write the layout above into ``out``, replacing it whole (written beside it, then renamed).

    vae: the trained AutoencoderKLWan; unets: arm -> a saved network folder (float32; stored as
    float16), ``landmarks`` among them; provenance: written to provenance.json and summarised in
    README.md; results: the scale experiment's (``stages.evaluate_mini``), written to results.json.
    """
    from facecam_kit.mini.pipeline import FaceCamMiniPipeline, make_mini_scheduler
    from facecam_kit.mini.unet import MiniUNet

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # never a user's name
    models = {arm: MiniUNet.from_pretrained(folder, torch_dtype=torch.float16) for arm, folder in unets.items()}
    FaceCamMiniPipeline(models["landmarks"], vae, make_mini_scheduler(), camera_kind="landmarks").save_pretrained(
        tmp / "landmarks"
    )
    for arm, model in models.items():
        if arm != "landmarks":
            model.save_pretrained(tmp / arm / "unet")
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
        for name, d in p["unets"].items()
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
- **Networks**: one latent UNet (`facecam_kit/mini/unet.py`, widths {r["unet_widths"]}), data, steps
  ({r["unet_steps"]}, batch {r["unet_batch"]}, lr {r["unet_lr"]}, a share {r["mean_share"]:.2f} of samples at
  s = 1), differing only in the camera condition: {arms_text}; seeds {r["seeds"]} (by arm: {r["arm_seeds"]}), the
  first shipped: their EMA weights, stored in float16. Sampled in {r["sampler_steps"]} steps, the first to
  s = {r["sampler_start"]}.

| run | final training loss | training time |
|---|---:|---:|
{rows}

The latent cache all of them read took {sec["cache"] / 60:.1f} min; the networks took {sec["unets"] / 60:.1f} min
of wall time, two at a time on one thread each; the studio {sec["studios"] / 60:.1f} min, the evaluation
{sec.get("evaluation", 0) / 60:.1f} min.
Every loss curve (per logged step) is in `provenance.json`.
"""
