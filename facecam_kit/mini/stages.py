"""``python -m facecam_kit train-mini``: FaceCam-mini's data, VAE, networks and evaluation, from one command.

Stages, each set by a recipe (:mod:`facecam_kit.mini.recipe`) and reused when finished (``--work``,
default ``outputs/mini``): the training studio, the detector's ceiling and the VAE with its gate
(:mod:`facecam_kit.mini.studio_vae`);
the latent cache every arm reads; every (arm, seed) network (:mod:`facecam_kit.mini.unet_training`),
each in a process of its own, two at a time, resumed from its checkpoint when interrupted; for the
recipes with a gate, the scale experiment on the held-out heads
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facecam_kit.mini.recipe import OUT_DIR, RECIPES, SCALE, SEED, SHIPPED, MiniRecipe, or_default
from facecam_kit.mini.studio_vae import (
    check_vae_stage,
    git_commit,
    make_mini_studios,
    studio_paths,
    train_mini_vae,
    vae_settings,
    vae_stage,
)


def cache_settings(work: Path, recipe: MiniRecipe) -> dict:
    """What the latent cache depends on, as JSON values: the studio, the data rules and the VAE."""
    train_root, _ = studio_paths(work)
    r = recipe
    return json.loads(
        json.dumps(
            {
                "studio": str(train_root.resolve()),
                "num_frames": r.num_frames,
                "samples_per_capture": r.samples_per_capture,
                "data_seed": SEED,
                "scene_scale_range": r.scene_scale_range,
                "rules": data_rules(r),
                "vae": vae_settings(r),
            }
        )
    )


def data_rules(recipe: MiniRecipe) -> dict:
    """The dataset's rules every arm trains on (``data.dataset.resolve_options``), or ValueError when
    the recipe's arms would need different data (one cache serves them all: the same information)."""
    from facecam_kit.data.dataset import resolve_options

    options = recipe.data_options()
    rules = {
        json.dumps(resolve_options("studio", options, s["camera"], True, s.get("camera_intrinsics", False)))
        for s in recipe.arms.values()
    }
    if len(rules) != 1:
        raise ValueError(f"recipe {recipe.name!r}: its arms need different data; tell the extrinsics the intrinsics")
    return json.loads(rules.pop())


def build_mini_cache(work: Path, progress: bool = True, recipe: MiniRecipe = SCALE) -> Path:
    """Stage 3: every training sample (the recipe's studio and data rules) encoded by ``work/vae``
    into ``work/cache``, with its cameras (:func:`facecam_kit.train.cache.build_cache`); every arm
    and seed reads it. Reused when built with the same :func:`cache_settings`."""
    import torch
    from diffusers import AutoencoderKLWan

    from facecam_kit.data.dataset import StudioDataset
    from facecam_kit.model.pipeline import normalise_latents
    from facecam_kit.train.cache import build_cache

    r = recipe
    train_root, _ = studio_paths(work)
    vae = AutoencoderKLWan.from_pretrained(work / "vae").eval()

    def encode(video):
        return normalise_latents(vae, vae.encode(video).latent_dist.mode())

    ds = StudioDataset(
        train_root, r.num_frames, r.samples_per_capture, True, seed=SEED,
        scene_scale_range=tuple(r.scene_scale_range), **data_rules(r),
    )  # fmt: skip
    no_text = torch.zeros(1, 1), torch.zeros(1, 1)  # FaceCam-mini reads no prompt
    return build_cache(ds, encode, work / "cache", *no_text, cache_settings(work, r), progress=progress)


def unet_run(work: Path, arm: str, seed: int, recipe: MiniRecipe = SCALE, progress: bool = True):
    """The :class:`~facecam_kit.mini.unet_training.MiniRun` of one (arm, seed): the arms differ only
    in their camera (``recipe.arms``), the seeds only in ``seed``."""
    from facecam_kit.mini.unet_training import MiniRun

    r, settings = recipe, recipe.arms[arm]
    return MiniRun(
        cache_dir=str(work / "cache"),
        output_dir=str(work / "runs" / r.run_name(arm, seed)),
        camera_kind=settings["camera"],
        camera_intrinsics=settings.get("camera_intrinsics", False),
        camera_units=settings.get("camera_units", "metric"),
        block_out_channels=tuple(r.unet_widths),
        steps=r.unet_steps,
        batch=r.unet_batch,
        lr=r.unet_lr,
        mean_share=r.mean_share,
        seed=seed,
        log_every=min(50, r.unet_steps),
        checkpoint_every=min(500, r.unet_steps),
        progress=progress,
    )


def train_mini_unets(work: Path, progress: bool = True, recipe: MiniRecipe = SCALE, jobs: int = 2) -> dict:
    """Stage 4: train every (arm, seed) network (``recipe.runs()``), each in its own process
    (``python -m facecam_kit.mini.unet_training``), ``jobs`` at a time on an equal share of the CPU
    threads. A finished run (its ``record.json``) is reused; an interrupted one resumes from its
    checkpoint. Returns {run name: its record (``run``, ``steps``, ``seconds``, ``threads``,
    ``history``) with ``unet``: the folder of its EMA weights}."""
    runs = [unet_run(work, arm, seed, recipe, progress) for arm, seed in recipe.runs()]
    pending = [run for run in runs if not (Path(run.output_dir) / "record.json").is_file()]
    share = max(1, (os.cpu_count() or 1) // max(1, jobs))
    threads = None if jobs <= 1 else min(share, _omp_threads(share))
    running = []
    try:
        while pending or running:
            if pending and len(running) < max(1, jobs):
                running.append(_start_unet(pending.pop(0), threads, progress))
                continue
            done = [r for r in running if r["proc"].poll() is not None]
            if not done:
                time.sleep(1.0)
            for r in done:
                running.remove(r)
                _finish_unet(r, work)
    finally:  # an error or an interrupt stops the others too (the next call resumes them)
        for r in running:
            r["proc"].terminate()
    records = {}
    for run in runs:
        folder = Path(run.output_dir)
        records[folder.name] = json.loads((folder / "record.json").read_text()) | {"unet": str(folder / "unet")}
    return records


def _omp_threads(default: int) -> int:
    """The caller's OMP_NUM_THREADS (a cap on any process's threads), or ``default``."""
    return int(os.environ.get("OMP_NUM_THREADS", default))


def _start_unet(run, threads: int | None, progress: bool) -> dict:
    """Start one network's training process on ``threads`` threads, its output in a log (None: the
    caller's threads, on the terminal)."""
    folder = Path(run.output_dir)
    config = folder.with_suffix(".json")  # beside the run
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(asdict(run), indent=1) + "\n")
    env, log = os.environ, None
    if threads is not None:  # overlapping runs: two progress bars on one terminal garble
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        log = open(folder.with_suffix(".log"), "w")
        if progress:
            print(f"training {folder.name} on {threads} thread(s); its progress in {log.name}", flush=True)
    cmd = [sys.executable, "-m", "facecam_kit.mini.unet_training", str(config)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    return dict(run=folder, log=log, proc=proc, t0=time.perf_counter())


def _finish_unet(r: dict, work: Path) -> None:
    """Close a finished training process's log and add its wall time to its record (``wall_seconds``:
    start-up and loading included), or raise when it failed."""
    if r["log"] is not None:
        r["log"].close()
    path = r["run"] / "record.json"
    if r["proc"].returncode or not path.is_file():
        where = "above" if r["log"] is None else f"in {r['log'].name}"
        raise ValueError(f"training {r['run'].name} failed (its error is {where}); rerun to resume from {work}")
    record = json.loads(path.read_text()) | {"wall_seconds": round(time.perf_counter() - r["t0"], 1)}
    path.write_text(json.dumps(record) + "\n")


def evaluate_mini(work: Path, unet_records: dict, progress: bool = True, recipe: MiniRecipe = SCALE) -> dict:
    """Stage 5 (recipes with a gate): the scale experiment on the held-out heads, every row of every
    seed (the controls once; the seeds after the first at ``recipe.seed_scales``, for the arms that
    have them), the networks' weights as shipped (float16-rounded), the heads split into
    ``recipe.eval_jobs`` parts evaluated at once, each in a process of its own on its share of the
    threads; each part's rows are written to ``work/eval`` and reused.
    Returns {"scenes": counts per setting (the first seed's), "scenes_by_seed", "dropped": the
    (head, trajectory) left out, "rows": per-scene scores}."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    r = recipe
    jobs = max(1, min(r.eval_jobs, r.test_heads))
    parts = [[int(h) for h in part] for part in np.array_split(np.arange(r.test_heads), jobs)]
    unets = {name: rec["unet"] for name, rec in unet_records.items()}
    args = [(work, r, part, unets) for part in parts]
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


def _evaluate_heads(work: Path, recipe: MiniRecipe, heads: list, unets: dict, progress: bool = False) -> dict:
    """:func:`evaluate_mini` on the held-out ``heads``: their scenes built once, every seed's rows
    scored (reused from ``work/eval/heads{first}-{last}_seed{seed}.json`` when written). Returns
    {"dropped", "seeds": {seed: {"scenes": counts per setting, "rows"}}}."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini import experiment as ex
    from facecam_kit.mini.models import mini_pipeline

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
            arm: mini_pipeline(unets[r.run_name(arm, seed)], work / "vae", s["camera"], rounded=True)
            for arm, s in r.arms.items()
            if seed in r.seeds_of(arm)
        }
        first = seed == r.seeds[0]
        scales = or_default(r.seed_scales, ex.SCALES)
        mine = [sc for sc in scenes if first or sc.setting == "table2" or sc.scale in scales]
        rows = tuple(row for row, (arm, _) in ex.ROWS.items() if arm in pipes)
        todo = (*rows, *ex.CONTROLS) if first else rows
        got = ex.run_scale_experiment(
            pipes, mine, todo, vae, r.sampler_steps, seed, r.identity_scales, progress, start=r.sampler_start
        )
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
    unet_records: dict,
    seconds: dict,
    command: str,
    results: dict | None = None,
    commit: str | None = None,
):
    """Write the first seed's network of every arm, the VAE, their provenance and the experiment's
    ``results`` (results.json) into ``out`` (replacing it whole). ``commit``: the code's commit when
    the run began (default: now's)."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.models import save_mini

    vae = AutoencoderKLWan.from_pretrained(work / "vae")
    unets = {arm: Path(unet_records[recipe.run_name(arm, recipe.seeds_of(arm)[0])]["unet"]) for arm in recipe.arms}
    provenance = {
        "command": command,
        "commit": commit or git_commit(),
        "recipe": json.loads(json.dumps(asdict(recipe))),
        "seconds": seconds,
        "vae": vae_record,
        "unets": {name: {k: v for k, v in r.items() if k != "unet"} for name, r in unet_records.items()},
    }
    return save_mini(out, vae, unets, provenance, results)


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
        metadata={
            "help": "start from this VAE (same recipe): the vae folder of an earlier --work, "
            "or an export such as data_samples/facecam_mini"
        },
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
    """All stages: studio, VAE (and its gate), latent cache, every (arm, seed) network, evaluation,
    export. Returns ``out``. The provenance names the commit checked out when this call began (the
    code that ran; an edit made while it runs is not in the models); each stage's record names its
    own. ``vae``: a VAE to start from (:func:`vae_stage`), copied into ``work`` when it has none."""
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
        folder, record = vae_stage(vae)
        shutil.rmtree(work / "vae.partial", ignore_errors=True)
        shutil.copytree(folder, work / "vae.partial")
        (work / "vae.partial" / "record.json").write_text(json.dumps(record) + "\n")
        shutil.rmtree(work / "vae", ignore_errors=True)
        (work / "vae.partial").rename(work / "vae")
    studios = make_mini_studios(work, progress, held_out=recipe.gate is None, recipe=recipe)
    seconds = {"studios": sum(_studio_seconds(root) for root in studios)}
    vae_record = train_mini_vae(work, progress, recipe)
    seconds["vae"] = vae_record["seconds"]
    t0 = time.perf_counter()
    built = (work / "cache" / "index.json").is_file()
    build_mini_cache(work, progress, recipe)
    if not built:  # the time it took, kept for a resumed run
        (work / "cache" / "seconds.json").write_text(json.dumps(round(time.perf_counter() - t0, 1)) + "\n")
    seconds["cache"] = _studio_seconds(work / "cache")
    t0 = time.perf_counter()
    unet_records = train_mini_unets(work, progress, recipe)
    # "unets": this call's wall time for all of them (each run's own overlaps the others')
    seconds["unets"] = round(time.perf_counter() - t0, 1)
    seconds |= {k: r["seconds"] for k, r in unet_records.items()}
    if recipe.gate is not None:  # the scale experiment's recipes: its results travel with the models
        t0 = time.perf_counter()
        results = evaluate_mini(work, unet_records, progress, recipe)
        seconds["evaluation"] = round(time.perf_counter() - t0, 1)
    else:
        results = None
    command = command or f"python -m facecam_kit train-mini --recipe {recipe.name}"
    return export(work, Path(out), recipe, vae_record, unet_records, seconds, command, results, commit)
