"""``python -m facecam_kit train-mini``'s first stages: the studios, and the VAE with its gate.

The training studio (and, for recipes without a gate, 4 held-out heads'), made once and reused;
the VAE trained on the recipe's clips (reused when ``work/vae`` holds one of the same
:func:`vae_settings`, or started from another run's or an export's, :func:`vae_stage`), then, for
the recipes with a gate, measured on held-out heads before any network trains
(:func:`vae_gate`). :mod:`facecam_kit.mini.stages` runs them, then the rest.

Taught in notebook 09 (FaceCam-mini, section 2).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from facecam_kit.mini.recipe import SCALE, SEED, MiniRecipe


class GateFailed(ValueError):
    """The VAE (or the detector on the ground truth) falls short of the recipe's gate: no network trains."""


def studio_paths(work: Path) -> tuple[Path, Path]:
    return work / "studio_train", work / "studio_test"


def make_mini_studios(
    work: Path, progress: bool = True, held_out: bool = True, recipe: MiniRecipe = SCALE
) -> tuple[Path, Path]:
    """The training studio and (with ``held_out``, the shipped recipe's VAE check) 4 held-out heads'
    studio, made once and reused when complete."""
    from facecam_kit.data.studio import make_studio

    r = recipe
    train, test = studio_paths(work)
    todo = [(train, r.train_heads, r.studio_seed)] + ([(test, 4, r.test_seed)] if held_out else [])
    for root, heads, seed in todo:
        if len(list(root.glob("*/capture.json"))) == heads:
            continue
        t0 = time.perf_counter()
        tmp = root.with_name(root.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        make_studio(tmp, heads, r.cameras, r.capture_frames, r.size, seed=seed, progress=progress, rig=r.studio_rig())
        (tmp / "seconds.json").write_text(json.dumps(round(time.perf_counter() - t0, 1)) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    return train, test


def wild_clip(size: int = SCALE.size, num_frames: int = SCALE.capture_frames) -> np.ndarray:
    """The bundled sample clip as a square ``size`` clip around the face: (F, size, size, 3) uint8."""
    import cv2

    from facecam_kit.assets import data_path
    from facecam_kit.video import read_video

    frames = read_video(data_path("sample_clip.mp4"))[0][:num_frames]
    h, w = frames.shape[1:3]
    s = min(h, w)
    top = max(0, min(h - s, int(0.12 * h)))  # the face sits in the upper part of the portrait
    crop = frames[:, top : top + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in crop])


def vae_clips(train_root: Path, progress: bool = True, recipe: MiniRecipe = SCALE) -> np.ndarray:
    """The VAE's training clips: source, target and condition of ``vae_items_per_capture`` triplets
    per training capture (the recipe's data rules), and windows of the sample clip.
    (N, num_frames, size, size, 3) uint8."""
    from tqdm.auto import tqdm

    from facecam_kit.data.dataset import StudioDataset, to_frames

    r = recipe
    ds = StudioDataset(train_root, r.num_frames, r.vae_items_per_capture, True, seed=SEED + 1, **r.data_options())
    clips = []
    for i in tqdm(range(len(ds)), desc="VAE clips", disable=not progress):
        item = ds[i]
        clips += [to_frames(item[key]) for key in ("source", "target", "condition")]
    wild = wild_clip(r.size, max(r.capture_frames, r.num_frames))
    clips += [wild[s : s + r.num_frames] for s in range(len(wild) - r.num_frames + 1)]
    return np.stack(clips)


def git_commit() -> str:
    """The checkout's commit, with ``+changes`` when facecam_kit/ differs from it ("unknown" outside git)."""
    here = Path(__file__).parent

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=here).stdout.strip()

    try:
        return git("rev-parse", "HEAD") + ("+changes" if git("status", "--porcelain", "--", str(here.parent)) else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def gate_clips(recipe: MiniRecipe) -> tuple[np.ndarray, np.ndarray]:
    """What the gate reconstructs: the ground-truth targets and their (anchor) condition videos of
    ``gate["heads"]`` held-out heads along three sweep moves at scale 1. Two (N, F, S, S, 3) uint8."""
    scenes, _ = recipe.sweep_scenes(recipe.gate["heads"], ("orbit_left", "dolly_in", "truck_right"), (), (1.0,))
    return np.stack([s.target for s in scenes]), np.stack([s.condition for s in scenes])


def vae_gate(vae, targets: np.ndarray, conditions: np.ndarray, gate: dict) -> dict:
    """The gate's numbers for a trained VAE: PSNR (dB) of its round trips of held-out ``targets`` and
    of their ``conditions``, MediaPipe's detection rate on the targets (the ceiling) and on their
    round trips, and ``passed`` with the reasons it did not."""
    from facecam_kit.mini.experiment import detection_rate
    from facecam_kit.mini.vae import reconstruct

    ceiling = detection_rate(targets)
    rebuilt = reconstruct(vae, targets)
    out = {
        "psnr_targets_db": round(_mean_psnr(targets, rebuilt), 2),
        "psnr_conditions_db": round(_mean_psnr(conditions, reconstruct(vae, conditions)), 2),
        "detect_truth": round(ceiling, 3),
        "detect_round_trip": round(detection_rate(rebuilt), 3),
        "clips": len(targets),
    }
    failed = []
    if ceiling < gate["ceiling"]:
        failed.append(f"the detector finds the true face in {ceiling:.0%} of frames, under {gate['ceiling']:.0%}")
    for key in ("psnr_targets_db", "psnr_conditions_db"):
        if out[key] < gate["psnr_db"]:
            failed.append(f"{key} {out[key]} < {gate['psnr_db']}")
    if out["detect_round_trip"] < gate["detect_share"] * ceiling:
        share = f"{gate['detect_share']:.0%} of {ceiling:.0%}"
        failed.append(f"faces found in {out['detect_round_trip']:.0%} of round trips, under {share}")
    return out | {"passed": not failed, "failed": failed, "gate": gate}


def _mean_psnr(a: np.ndarray, b: np.ndarray) -> float:
    from facecam_kit.evaluation.fidelity import psnr

    return float(np.mean([psnr(x, y) for x, y in zip(a, b)]))


def vae_settings(recipe: MiniRecipe) -> dict:
    """What a recipe's VAE depends on, as JSON values: its own numbers and the studio and rules its
    clips come from (a VAE whose record holds these is reused)."""
    studio = ("size", "num_frames", "capture_frames", "cameras", "train_heads", "studio_seed", "rig", "rules")
    settings = {k: v for k, v in asdict(recipe).items() if k.startswith("vae") or k in (*studio, "supersample")}
    return json.loads(json.dumps(settings))


def vae_stage(folder: Path) -> tuple[Path, dict]:
    """The saved VAE and the record of its training in ``folder``: a VAE stage (``work/vae`` of an
    earlier run: the VAE and ``record.json``) or a train-mini export (``landmarks/vae``, the record
    in ``provenance.json``), or ValueError naming what is missing."""
    from facecam_kit.userfiles import read_json

    folder = Path(folder)
    if (folder / "provenance.json").is_file():
        provenance = read_json(folder / "provenance.json", "--vae provenance")
        record = provenance.get("vae") if isinstance(provenance, dict) else None
        return folder / "landmarks" / "vae", record if isinstance(record, dict) else {}
    if not (folder / "record.json").is_file():
        raise ValueError(
            f"--vae {folder} is not a trained VAE stage (no record.json) nor a train-mini export (no provenance.json): "
            "give the vae folder of a train-mini --work, or an export such as data_samples/facecam_mini"
        )
    record = read_json(folder / "record.json", "--vae record")
    return folder, record if isinstance(record, dict) else {}


def check_vae_stage(folder: Path, recipe: MiniRecipe) -> None:
    """ValueError unless ``folder`` holds a VAE that train-mini would reuse for ``recipe``
    (:func:`vae_stage`): saved whole, with the record of its training made with the same
    :func:`vae_settings`."""
    from facecam_kit.model.weights import check_saved_model

    vae, record = vae_stage(folder)
    missing = [n for n in ("config.json", "diffusion_pytorch_model.safetensors") if not (vae / n).is_file()]
    if missing:
        raise ValueError(f"--vae {folder}: {vae} holds no saved VAE (no {', '.join(missing)})")
    settings = record.get("settings")
    if not isinstance(settings, dict):
        raise ValueError(f"--vae {folder}: its record holds no training settings (damaged?); leave --vae out")
    changed = sorted(k for k, v in vae_settings(recipe).items() if settings.get(k) != v)
    if changed:
        raise ValueError(
            f"--vae {folder} was trained with other {', '.join(changed)} than recipe {recipe.name!r}; "
            "leave --vae out to train one"
        )
    # a truncated or garbage VAE failed minutes later, and its copy in --work on every rerun
    check_saved_model(vae, "AutoencoderKLWan", "--vae")


def train_mini_vae(work: Path, progress: bool = True, recipe: MiniRecipe = SCALE) -> dict:
    """Stage 2: train the VAE (reused when ``work/vae`` holds one of the same recipe) and, when the
    recipe has a gate, measure it; returns the record. Raises :class:`GateFailed` (the record and the
    VAE kept, for a look) when the gate is not passed."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.vae import reconstruction_psnr, train_vae

    r = recipe
    train_root, test_root = studio_paths(work)
    settings = vae_settings(r)
    record_path = work / "vae" / "record.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record is None or record.get("settings", settings) != settings:
        t0, commit = time.perf_counter(), git_commit()  # the code that trains it (an edit meanwhile is not)
        clips = vae_clips(train_root, progress, r)
        vae, losses = train_vae(
            clips,
            r.vae_steps,
            r.vae_batch,
            r.vae_lr,
            SEED,
            progress,
            config=r.vae_config(),
            frames=r.vae_frames,
            crop=r.vae_crop,
        )
        record = {
            "settings": settings,
            "commit": commit,  # a resumed run's stages may come from different commits
            "steps": r.vae_steps,
            "clips": len(clips),
            "seconds": round(time.perf_counter() - t0, 1),
            "loss": [round(x, 5) for x in losses],
            "psnr_train_db": round(reconstruction_psnr(vae, clips[:: max(1, len(clips) // 64)]), 2),
        }
        if r.gate is None:  # the shipped recipe measured its held-out heads' studio
            record["psnr_held_out_db"] = round(reconstruction_psnr(vae, vae_clips_held_out(test_root, r)), 2)
        tmp = work / "vae.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        vae.save_pretrained(tmp)
        (tmp / "record.json").write_text(json.dumps(record) + "\n")
        shutil.rmtree(work / "vae", ignore_errors=True)
        tmp.rename(work / "vae")
    if r.gate is not None and record.get("gate", {}).get("gate") != r.gate:  # measured for this gate
        vae = AutoencoderKLWan.from_pretrained(work / "vae")
        record["gate"] = vae_gate(vae, *gate_clips(r), r.gate)
        record_path.write_text(json.dumps(record) + "\n")
    if r.gate is not None and not record["gate"]["passed"]:
        raise GateFailed(
            f"the VAE in {work / 'vae'} fails the gate, so no network trains on it: "
            f"{'; '.join(record['gate']['failed'])}. Train it longer or larger (recipe {r.name!r}: vae, vae_steps)"
        )
    return record


def vae_clips_held_out(test_root: Path, recipe: MiniRecipe = SCALE) -> np.ndarray:
    """Clips of the held-out heads' studio (first window of every camera, no augmentation)."""
    from facecam_kit.data.studio import load_capture

    clips = []
    for path in sorted(p.parent for p in test_root.glob("*/capture.json")):
        cap = load_capture(path)
        clips += [cap.videos[c, : recipe.num_frames] for c in range(len(cap.videos))]
    return np.stack(clips)
