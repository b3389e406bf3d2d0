"""``python -m facecam_kit train-mini``: FaceCam-mini's data, VAE, DiTs and evaluation, from one command.

Stages, each set by a recipe (:mod:`facecam_kit.mini.recipe`) and reused when finished (``--work``,
default ``outputs/mini``): the training studio; the detector's ceiling and the VAE with its gate;
every (arm, seed) DiT, trained from scratch by the kit's trainer (:mod:`facecam_kit.train.trainer`)
in a process of its own; for the recipes with a gate, the scale experiment on the held-out heads
(:func:`evaluate_mini`: ``results.json``); the models and ``provenance.json`` (command, commit,
recipe, timings, loss curves, gate numbers) written to ``--out`` (default
``data_samples/facecam_mini``).

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from facecam_kit.mini.recipe import KIT_V1, OUT_DIR, RECIPES, SCALE, SEED, SHIPPED, MiniRecipe, or_default


class GateFailed(ValueError):
    """The VAE (or the detector on the ground truth) falls short of the recipe's gate: no DiT trains."""


def studio_paths(work: Path) -> tuple[Path, Path]:
    return work / "studio_train", work / "studio_test"


def make_mini_studios(
    work: Path, progress: bool = True, held_out: bool = True, recipe: MiniRecipe = KIT_V1
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


def wild_clip(size: int = KIT_V1.size, num_frames: int = KIT_V1.capture_frames) -> np.ndarray:
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


def vae_clips(train_root: Path, progress: bool = True, recipe: MiniRecipe = KIT_V1) -> np.ndarray:
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


def check_vae_stage(folder: Path, recipe: MiniRecipe) -> None:
    """ValueError unless ``folder`` is a VAE stage that train-mini would reuse for ``recipe``: a saved
    VAE with the record of its training (``work/vae`` of an earlier run) made with the same
    :func:`vae_settings`."""
    from facecam_kit.model.weights import check_saved_model
    from facecam_kit.userfiles import read_json

    folder = Path(folder)
    missing = [
        n for n in ("config.json", "diffusion_pytorch_model.safetensors", "record.json") if not (folder / n).is_file()
    ]
    if missing:
        raise ValueError(
            f"--vae {folder} is not a trained VAE stage (no {', '.join(missing)}): "
            "give the vae folder of a train-mini --work"
        )
    record = read_json(folder / "record.json", "--vae record")
    settings = record.get("settings") if isinstance(record, dict) else None
    if not isinstance(settings, dict):
        raise ValueError(f"--vae {folder}: record.json holds no training settings (damaged?); leave --vae out")
    changed = sorted(k for k, v in vae_settings(recipe).items() if settings.get(k) != v)
    if changed:
        raise ValueError(
            f"--vae {folder} was trained with other {', '.join(changed)} than recipe {recipe.name!r}; "
            "leave --vae out to train one"
        )
    # a truncated or garbage VAE failed minutes later, and its copy in --work on every rerun
    check_saved_model(folder, "AutoencoderKLWan", "--vae")


def train_mini_vae(work: Path, progress: bool = True, recipe: MiniRecipe = KIT_V1) -> dict:
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
            f"the VAE in {work / 'vae'} fails the gate, so no DiT trains on it: "
            f"{'; '.join(record['gate']['failed'])}. Train it longer or larger (recipe {r.name!r}: vae, vae_steps)"
        )
    return record


def vae_clips_held_out(test_root: Path, recipe: MiniRecipe = KIT_V1) -> np.ndarray:
    """Clips of the held-out heads' studio (first window of every camera, no augmentation)."""
    from facecam_kit.data.studio import load_capture

    clips = []
    for path in sorted(p.parent for p in test_root.glob("*/capture.json")):
        cap = load_capture(path)
        clips += [cap.videos[c, : recipe.num_frames] for c in range(len(cap.videos))]
    return np.stack(clips)


def dit_config(
    work: Path,
    arm: str,
    max_steps: int | None = None,
    progress: bool = True,
    recipe: MiniRecipe = KIT_V1,
    seed: int = SEED,
    **overrides,
):
    """The training configuration of one (arm, seed) DiT: the arms differ only in their settings
    (``recipe.arms``), the seeds only in ``seed``; every run reads one latent cache."""
    from facecam_kit.train.config import TrainConfig

    r = recipe
    train_root, _ = studio_paths(work)
    settings = dict(
        output_dir=str(work / "runs" / r.run_name(arm, seed)),
        model="tiny",
        **r.arms[arm],
        dit=dict(r.dit, patch_size=list(r.dit["patch_size"])),
        vae=str(work / "vae"),
        preset="full",
        expert="both",  # one transformer for every timestep (no expert split at this size)
        data_kind="studio",
        data_root=str(train_root),
        cache_dir=str(work / "cache"),
        num_frames=r.num_frames,
        samples_per_item=r.samples_per_capture,
        augment=True,
        data_seed=SEED,
        scene_scale_range=list(r.scene_scale_range),
        data_options=r.data_options(),
        text_dropout=0.0,  # no text encoder: the prompt is the empty embedding either way
        batch_size=r.dit_batch,
        max_steps=r.dit_steps if max_steps is None else max_steps,
        lr=r.dit_lr,
        lr_scheduler="cosine",
        lr_warmup_steps=min(50, r.dit_steps // 10),
        log_every=min(10, r.dit_steps),
        checkpoint_every=r.dit_steps if max_steps is None else max_steps,
        validate_every=0,
        seed=seed,
        tracker="tensorboard",
        progress=progress,
    )
    return TrainConfig(**{**settings, **overrides})


def train_mini_dits(work: Path, progress: bool = True, recipe: MiniRecipe = KIT_V1, jobs: int = 2) -> dict:
    """Stage 3: train every (arm, seed) DiT, each in its own process (``python -m facecam_kit.train``),
    ``jobs`` at a time on an equal share of the CPU threads (two one-thread processes train 1.6x
    faster than one of two threads on 2 cores: the small DiT's ops do not fill two cores); the
    first builds the shared latent cache on every thread (``loop_threads``: then it trains on its
    share) while the others wait. A finished run is reused.
    Returns {run name: {"arm", "seed", "seconds" (wall time, shared when runs overlap), "threads",
    "history", "checkpoint"}}."""
    runs = [
        (arm, seed, dit_config(work, arm, progress=progress, recipe=recipe, seed=seed))
        for arm in recipe.arms
        for seed in recipe.seeds
    ]
    pending = [run for run in runs if not (Path(run[2].output_dir) / "record.json").is_file()]
    share = max(1, (os.cpu_count() or 1) // max(1, jobs))
    threads = None if jobs <= 1 else min(share, _omp_threads(share))
    running = []
    try:
        while pending or running:
            cache_ready = (work / "cache" / "index.json").is_file()
            if pending and len(running) < (max(1, jobs) if cache_ready else 1):
                caching = None if cache_ready or threads is None else min(share * jobs, _omp_threads(share * jobs))
                caching = None if caching == threads else caching
                running.append(_start_dit(*pending.pop(0), threads, progress, caching))
                continue
            done = [r for r in running if r["proc"].poll() is not None]
            if not done:
                time.sleep(1.0)
            for r in done:
                running.remove(r)
                _finish_dit(r, work)
    finally:  # an error or an interrupt stops the others too (the next call trains them again)
        for r in running:
            r["proc"].terminate()
    records = {}
    for _, _, cfg in runs:
        run = Path(cfg.output_dir)
        final = run / f"checkpoint-{cfg.max_steps:06d}"
        records[run.name] = {**json.loads((run / "record.json").read_text()), "checkpoint": str(final)}
    return records


def _omp_threads(default: int) -> int:
    """The caller's OMP_NUM_THREADS (a cap on any process's threads), or ``default``."""
    return int(os.environ.get("OMP_NUM_THREADS", default))


def _start_dit(arm: str, seed: int, cfg, threads: int | None, progress: bool, caching: int | None = None) -> dict:
    """Start one DiT's training process: on ``threads`` threads with its output in a log (None: as
    the caller's, on the terminal); with ``caching``, on that many until the latent cache is built."""
    if caching is not None:
        cfg = replace(cfg, loop_threads=threads)
    run = Path(cfg.output_dir)
    config = run.with_suffix(".json")  # beside the run: the trainer starts in a folder of its own
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
    env, log = os.environ, None
    if threads is not None:  # overlapping runs: two progress bars on one terminal garble
        env = {**os.environ, "OMP_NUM_THREADS": str(caching or threads)}
        log = open(run.with_suffix(".log"), "w")
        if progress:
            first = "" if caching is None else f" (the latent cache first, on {caching})"
            print(f"training the {run.name} DiT on {threads} thread(s){first}; its progress in {log.name}", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "facecam_kit.train", str(config)], env=env, stdout=log, stderr=log)
    used = cfg.loop_threads or int(env.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    return dict(
        arm=arm, seed=seed, run=run, log=log, threads=used, commit=git_commit(), proc=proc, t0=time.perf_counter()
    )


def _finish_dit(r: dict, work: Path) -> None:
    """Record a finished training process (``record.json``: what marks the run done), or raise."""
    if r["log"] is not None:
        r["log"].close()
    run = r["run"]
    if r["proc"].returncode:
        where = "above" if r["log"] is None else f"in {r['log'].name}"
        raise ValueError(f"training the {run.name} DiT failed (its error is {where}); rerun to resume from {work}")
    record = {
        "arm": r["arm"],
        "seed": r["seed"],
        "seconds": round(time.perf_counter() - r["t0"], 1),
        "threads": r["threads"],
        "commit": r["commit"],
        "history": json.loads((run / "loss_history.json").read_text()),
    }
    (run / "record.json").write_text(json.dumps(record) + "\n")


def evaluate_mini(work: Path, dit_records: dict, progress: bool = True, recipe: MiniRecipe = SCALE) -> dict:
    """Stage 4 (recipes with a gate): the scale experiment on the held-out heads, every row of every
    seed (the controls once; the seeds after the first at ``recipe.seed_scales``), the heads split
    into ``recipe.eval_jobs`` parts evaluated at once, each in a process of its own on its share of
    the threads (as the DiTs train); each part's rows are written to ``work/eval`` and reused.
    Returns {"scenes": counts per setting (the first seed's), "scenes_by_seed", "dropped": the
    (head, trajectory) left out, "rows": per-scene scores}."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    r = recipe
    jobs = max(1, min(r.eval_jobs, r.test_heads))
    parts = [[int(h) for h in part] for part in np.array_split(np.arange(r.test_heads), jobs)]
    checkpoints = {name: rec["checkpoint"] for name, rec in dit_records.items()}
    args = [(work, r, part, checkpoints) for part in parts]
    if jobs == 1:
        done = [_evaluate_heads(*a, progress=progress) for a in args]
    else:
        share = max(1, (os.cpu_count() or 1) // jobs)
        threads = min(share, _omp_threads(share))
        if progress:
            print(f"evaluating heads {parts} in {jobs} processes of {threads} thread(s) each", flush=True)
        spawn = multiprocessing.get_context("spawn")  # a fork would copy torch's thread pool
        with ProcessPoolExecutor(jobs, spawn, initializer=_one_share, initargs=(threads,)) as pool:
            done = list(pool.map(_evaluate_heads, *zip(*args)))
    out = {"scenes": {}, "scenes_by_seed": {}, "dropped": [], "rows": []}
    for part in done:
        out["dropped"] += part["dropped"]
        for seed, got in part["seeds"].items():
            out["rows"] += got["rows"]
            counts = out["scenes_by_seed"].setdefault(seed, {})
            for setting, n in got["scenes"].items():
                counts[setting] = counts.get(setting, 0) + n
    out["scenes"] = out["scenes_by_seed"][str(r.seeds[0])]
    return out


def _one_share(threads: int) -> None:
    """An evaluation process's initializer: torch on ``threads`` threads (its share of the CPU)."""
    import torch

    torch.set_num_threads(threads)


def _evaluate_heads(work: Path, recipe: MiniRecipe, heads: list, checkpoints: dict, progress: bool = False) -> dict:
    """:func:`evaluate_mini` on the held-out ``heads``: their scenes built once, every seed's rows
    scored (reused from ``work/eval/heads{first}-{last}_seed{seed}.json`` when written). Returns
    {"dropped", "seeds": {seed: {"scenes": counts per setting, "rows"}}}."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini import experiment as ex
    from facecam_kit.mini.models import pipeline_from

    r = recipe
    paths = {seed: work / "eval" / f"heads{heads[0]:02d}-{heads[-1]:02d}_seed{seed}.json" for seed in r.seeds}
    scenes = dropped = vae = None
    for seed, path in paths.items():
        if path.is_file():
            continue
        if scenes is None:
            vae = AutoencoderKLWan.from_pretrained(work / "vae")
            sweep, dropped = r.sweep_scenes(heads, progress=progress)
            presets = or_default(r.presets, ex.PRESETS_TABLE2)
            table2, lost = r.sweep_scenes(heads, presets, (), (1.0,), "table2", progress)
            scenes, dropped = sweep + table2, dropped + lost
        pipes = {
            arm: pipeline_from(Path(checkpoints[r.run_name(arm, seed)]) / "transformer", work / "vae", s["camera"])
            for arm, s in r.arms.items()
        }
        first = seed == r.seeds[0]
        scales = or_default(r.seed_scales, ex.SCALES)
        mine = [sc for sc in scenes if first or sc.setting == "table2" or sc.scale in scales]
        todo = (*ex.ROWS, *ex.CONTROLS) if first else tuple(ex.ROWS)
        got = ex.run_scale_experiment(pipes, mine, todo, vae, r.eval_steps, seed, r.identity_scales, progress)
        counts = {}
        for sc in mine:
            counts[sc.setting] = counts.get(sc.setting, 0) + 1
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps({"dropped": dropped, "scenes": counts, "rows": [x | {"seed": seed} for x in got]}))
        tmp.rename(path)
    written = {seed: json.loads(path.read_text()) for seed, path in paths.items()}
    return {
        "dropped": written[r.seeds[0]]["dropped"],
        "seeds": {str(seed): {"scenes": w["scenes"], "rows": w["rows"]} for seed, w in written.items()},
    }


def export(
    work: Path,
    out: Path,
    recipe: MiniRecipe,
    vae_record: dict,
    dit_records: dict,
    seconds: dict,
    command: str,
    results: dict | None = None,
    commit: str | None = None,
):
    """Write the first seed's model of every arm, the VAE, their provenance and the experiment's
    ``results`` (results.json) into ``out`` (replacing it whole). ``commit``: the code's commit when
    the run began (default: now's)."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.models import save_mini

    vae = AutoencoderKLWan.from_pretrained(work / "vae")
    first = recipe.seeds[0]
    transformers = {
        r["arm"] if "arm" in r else name: Path(r["checkpoint"]) / "transformer"
        for name, r in dit_records.items()
        if r.get("seed", first) == first
    }
    provenance = {
        "command": command,
        "commit": commit or git_commit(),
        "recipe": json.loads(json.dumps(asdict(recipe))),
        "seconds": seconds,
        "vae": vae_record,
        "dits": {name: {k: v for k, v in r.items() if k != "checkpoint"} for name, r in dit_records.items()},
    }
    return save_mini(out, vae, transformers, provenance, results)


def load_results(models: Path) -> tuple[dict, dict, MiniRecipe]:
    """The provenance, the scale experiment's results and the recipe of a train-mini export
    (``models``: its ``--out``), or ValueError naming what is missing or changed: an export without
    results.json (a recipe without the experiment), or a recipe whose numbers in the code differ
    from those the models were made with (the notebook would draw its scenes otherwise)."""
    models = Path(models)
    missing = [n for n in ("provenance.json", "results.json") if not (models / n).is_file()]
    if missing:
        raise ValueError(
            f"{models} has no {' or '.join(missing)}: the scale experiment's results come with the models "
            f"of `python -m facecam_kit train-mini --recipe {SCALE.name} --out {models}`"
        )
    provenance = json.loads((models / "provenance.json").read_text())
    name = provenance.get("recipe", {}).get("name")
    if name not in RECIPES:
        raise ValueError(f"{models}/provenance.json names recipe {name!r}, not one of {', '.join(RECIPES)}")
    r = RECIPES[name]
    changed = sorted(k for k, v in json.loads(json.dumps(asdict(r))).items() if provenance["recipe"].get(k) != v)
    if changed:
        raise ValueError(
            f"the models in {models} were made with recipe {name!r} before its {', '.join(changed)} changed; "
            "retrain them (train-mini) or check out the commit their provenance names"
        )
    return provenance, json.loads((models / "results.json").read_text()), r


def _studio_seconds(root: Path) -> float:
    """How long a studio took to make (recorded when it was made; 0 for one made before that record)."""
    path = root / "seconds.json"
    return json.loads(path.read_text()) if path.is_file() else 0.0


@dataclass
class TrainMiniOptions:
    """Options of ``python -m facecam_kit train-mini``."""

    work: Path = field(default=Path("outputs/mini"), metadata={"help": "working folder (finished stages are reused)"})
    out: Path = field(default=OUT_DIR, metadata={"help": "where the models and their provenance go"})
    vae: Path | None = field(
        default=None,
        metadata={"help": "start from this trained VAE stage (the vae folder of an earlier --work, same recipe)"},
    )
    recipe: str = field(
        default=SCALE.name,
        metadata={
            "help": f"the recipe, each described in facecam_kit/mini/recipe.py; {SHIPPED.name} made the shipped models",
            "choices": list(RECIPES),
        },
    )


#: written into ``--work`` when train-mini starts: the folder is FaceCam-mini's working folder
WORK_MARKER = "mini_work.json"


def check_train_mini(opts: TrainMiniOptions) -> None:
    """Before an hour of work: ``--out`` new, empty or an earlier export (it is replaced whole), and
    ``--work`` new, empty or an earlier working folder; both writable, and not one inside the other."""
    from facecam_kit.outputs import check_own_folder

    check_own_folder(opts.out, "provenance.json", "--out", "FaceCam-mini export")
    check_own_folder(opts.work, WORK_MARKER, "--work", "FaceCam-mini working folder")
    if opts.vae is not None:
        check_vae_stage(opts.vae, RECIPES[opts.recipe])
    out, work = Path(opts.out).resolve(), Path(opts.work).resolve()
    if out == work or out in work.parents or work in out.parents:
        raise ValueError(f"--out {opts.out} and --work {opts.work} must be separate folders (--out is replaced)")


def run_train_mini(opts: TrainMiniOptions) -> list[Path]:
    """The ``train-mini`` job: :func:`check_train_mini`, then :func:`train_mini`; returns the files it wrote."""
    check_train_mini(opts)
    command = f"python -m facecam_kit train-mini --work {opts.work} --out {opts.out} --recipe {opts.recipe}"
    command += "" if opts.vae is None else f" --vae {opts.vae}"
    out = train_mini(opts.work, opts.out, command=command, recipe=RECIPES[opts.recipe], vae=opts.vae)
    return sorted(p for p in out.rglob("*") if p.is_file())


def train_mini(
    work=Path("outputs/mini"), out=OUT_DIR, progress: bool = True, command: str = "", recipe=SCALE, vae=None
) -> Path:
    """All stages: studio, VAE (and its gate), every (arm, seed) DiT, export. Returns ``out``. The
    provenance names the commit checked out when this call began (the code that ran; an edit made
    while it runs is not in the models); each stage's record names its own. ``vae``: a trained VAE
    stage to start from (:func:`check_vae_stage`), copied into ``work`` when it has none."""
    if vae is not None:
        check_vae_stage(vae, recipe)
    commit = git_commit()
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    marker = work / WORK_MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("recipe", recipe.name) != recipe.name:
        raise ValueError(f"--work {work} holds another recipe's stages; choose another --work for {recipe.name!r}")
    marker.write_text(json.dumps({"job": "train-mini", "recipe": recipe.name}) + "\n")
    if vae is not None and not (work / "vae" / "record.json").is_file():
        shutil.copytree(vae, work / "vae.partial", dirs_exist_ok=True)
        shutil.rmtree(work / "vae", ignore_errors=True)
        (work / "vae.partial").rename(work / "vae")
    studios = make_mini_studios(work, progress, held_out=recipe.gate is None, recipe=recipe)
    seconds = {"studios": sum(_studio_seconds(root) for root in studios)}
    vae_record = train_mini_vae(work, progress, recipe)
    t0 = time.perf_counter()
    dit_records = train_mini_dits(work, progress, recipe)
    # "dits": this call's wall time for all of them (each run's own overlaps the others')
    seconds |= {"vae": vae_record["seconds"], "dits": round(time.perf_counter() - t0, 1)}
    seconds |= {k: r["seconds"] for k, r in dit_records.items()}
    if recipe.gate is not None:  # the scale experiment's recipes: its results travel with the models
        t0 = time.perf_counter()
        results = evaluate_mini(work, dit_records, progress, recipe)
        seconds["evaluation"] = round(time.perf_counter() - t0, 1)
    else:
        results = None
    command = command or f"python -m facecam_kit train-mini --recipe {recipe.name}"
    return export(work, Path(out), recipe, vae_record, dit_records, seconds, command, results, commit)
