"""``python -m facecam_kit train-mini``: FaceCam-mini's data, VAE and three DiTs, from one command.

The recipe, every number of it here (notebook 09 explains why):

* **data**: a synthetic studio (:mod:`facecam_kit.data.studio`) of ``TRAIN_HEADS`` heads, and
  ``TEST_HEADS`` more from another seed that no model sees while training; ``CAMERAS`` cameras,
  ``CAPTURE_FRAMES`` frames, ``SIZE`` x ``SIZE`` pixels; training triplets of ``NUM_FRAMES``
  frames with the kit's earlier strategies (``data.dataset.KIT_V1``: scale augmentation, a zoom or
  a pan, 1-4 clips stitched at random cuts, per-frame landmarks, background colours;
  :class:`~facecam_kit.data.dataset.StudioDataset`) and a random scene scale in ``SCENE_SCALE_RANGE``;
* **VAE**: :mod:`facecam_kit.mini.vae` on source, target and condition clips of those triplets
  and on the sample clip (the in-the-wild frames);
* **DiTs**: three ``WanTransformer3DModel`` of the same size (``DIT``), data, steps and seed,
  differing only in the camera condition (``spec.CAMERA_KINDS``): ``landmarks`` (FaceCam), ``extrinsics``
  (ReCamMaster's per-block camera encoder), ``plucker`` (FactorPortrait's ray maps), trained
  from scratch by the kit's trainer (:mod:`facecam_kit.train.trainer`, preset ``full``).

Work goes to ``--work`` (default ``outputs/mini``; a finished stage is reused), and the models are
written to ``--out`` (default ``data_samples/facecam_mini``) with ``provenance.json``: the command,
commit, seeds, settings, timings and every model's loss curve.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facecam_kit.assets import DATA_DIR
from facecam_kit.spec import CAMERA_KINDS

SIZE, NUM_FRAMES, CAPTURE_FRAMES, CAMERAS = 96, 9, 17, 8
TRAIN_HEADS, TEST_HEADS = 12, 4
STUDIO_SEED, TEST_SEED = 0, 1000
#: the metric size of a training scene relative to the studio's (log-uniform)
SCENE_SCALE_RANGE = (0.7, 1.4)
SAMPLES_PER_CAPTURE = 48
VAE_STEPS, VAE_ITEMS_PER_CAPTURE = 900, 24
#: WanTransformer3DModel arguments shared by the three DiTs (in_channels set per kind)
DIT = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=4,
    attention_head_dim=32,
    text_dim=32,
    freq_dim=64,
    ffn_dim=256,
    num_layers=4,
    rope_max_seq_len=32,
)
DIT_STEPS, DIT_BATCH, DIT_LR = 4000, 8, 5e-4
#: FaceCam-mini at GPU size (``python -m facecam_kit gpu-check``, stage "mini"): twice the
#: resolution, a DiT twice as wide and twice as deep, trained for ``minutes`` rather than a step count
GPU_RECIPE = dict(
    size=2 * SIZE,
    num_frames=NUM_FRAMES,
    heads=4,
    samples_per_item=16,
    batch=16,
    minutes=1.0,
    dit=dict(DIT, num_attention_heads=8, ffn_dim=1024, num_layers=8),
)
SEED = 0
OUT_DIR = DATA_DIR / "facecam_mini"


def studio_paths(work: Path) -> tuple[Path, Path]:
    return work / "studio_train", work / "studio_test"


def make_mini_studios(work: Path, progress: bool = True, held_out: bool = True) -> tuple[Path, Path]:
    """The training studio and (with ``held_out``) the held-out heads' studio, made once and
    reused when complete."""
    from facecam_kit.data.studio import make_studio

    train, test = studio_paths(work)
    todo = [(train, TRAIN_HEADS, STUDIO_SEED)] + ([(test, TEST_HEADS, TEST_SEED)] if held_out else [])
    for root, heads, seed in todo:
        if len(list(root.glob("*/capture.json"))) == heads:
            continue
        t0 = time.perf_counter()
        tmp = root.with_name(root.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        make_studio(tmp, heads, CAMERAS, CAPTURE_FRAMES, SIZE, seed=seed, progress=progress)
        (tmp / "seconds.json").write_text(json.dumps(round(time.perf_counter() - t0, 1)) + "\n")
        shutil.rmtree(root, ignore_errors=True)
        tmp.rename(root)
    return train, test


def wild_clip(size: int = SIZE, num_frames: int = CAPTURE_FRAMES) -> np.ndarray:
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


def vae_clips(train_root: Path, progress: bool = True) -> np.ndarray:
    """The VAE's training clips: source, target and condition of ``VAE_ITEMS_PER_CAPTURE`` triplets
    per training capture, and windows of the sample clip. (N, NUM_FRAMES, SIZE, SIZE, 3) uint8."""
    from tqdm.auto import tqdm

    from facecam_kit.data.dataset import KIT_V1, StudioDataset, to_frames

    ds = StudioDataset(train_root, NUM_FRAMES, VAE_ITEMS_PER_CAPTURE, augment=True, seed=SEED + 1, **KIT_V1)
    clips = []
    for i in tqdm(range(len(ds)), desc="VAE clips", disable=not progress):
        item = ds[i]
        clips += [to_frames(item[key]) for key in ("source", "target", "condition")]
    wild = wild_clip()
    clips += [wild[s : s + NUM_FRAMES] for s in range(len(wild) - NUM_FRAMES + 1)]
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


def train_mini_vae(work: Path, progress: bool = True) -> dict:
    """Stage 2: train the VAE (reused when ``work/vae`` exists); returns its record."""
    from facecam_kit.mini.vae import reconstruction_psnr, train_vae

    train_root, test_root = studio_paths(work)
    record_path = work / "vae" / "record.json"
    if record_path.is_file():
        return json.loads(record_path.read_text())
    t0 = time.perf_counter()
    clips = vae_clips(train_root, progress)
    vae, losses = train_vae(clips, VAE_STEPS, seed=SEED, progress=progress)
    seconds = time.perf_counter() - t0
    held_out = vae_clips_held_out(test_root)
    record = {
        "steps": VAE_STEPS,
        "clips": len(clips),
        "seconds": round(seconds, 1),
        "loss": [round(x, 5) for x in losses],
        "psnr_train_db": round(reconstruction_psnr(vae, clips[:: max(1, len(clips) // 64)]), 2),
        "psnr_held_out_db": round(reconstruction_psnr(vae, held_out), 2),
    }
    tmp = work / "vae.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    vae.save_pretrained(tmp)
    (tmp / "record.json").write_text(json.dumps(record) + "\n")
    shutil.rmtree(work / "vae", ignore_errors=True)
    tmp.rename(work / "vae")
    return record


def vae_clips_held_out(test_root: Path) -> np.ndarray:
    """Clips of the held-out heads (first window of every camera, no augmentation) for the VAE's PSNR."""
    from facecam_kit.data.studio import load_capture

    clips = []
    for path in sorted(p.parent for p in test_root.glob("*/capture.json")):
        cap = load_capture(path)
        clips += [cap.videos[c, :NUM_FRAMES] for c in range(len(cap.videos))]
    return np.stack(clips)


def dit_config(work: Path, kind: str, max_steps: int = DIT_STEPS, progress: bool = True, **overrides):
    """The training configuration of one mini DiT: the three differ only in ``camera``."""
    from facecam_kit.data.dataset import KIT_V1
    from facecam_kit.train.config import TrainConfig

    train_root, _ = studio_paths(work)
    settings = dict(
        output_dir=str(work / "runs" / kind),
        model="tiny",
        camera=kind,
        dit=dict(DIT, patch_size=list(DIT["patch_size"])),
        vae=str(work / "vae"),
        preset="full",
        expert="both",  # one transformer for every timestep (no expert split at this size)
        data_kind="studio",
        data_root=str(train_root),
        cache_dir=str(work / "cache"),
        num_frames=NUM_FRAMES,
        samples_per_item=SAMPLES_PER_CAPTURE,
        augment=True,
        data_seed=SEED,
        scene_scale_range=list(SCENE_SCALE_RANGE),
        # the kit's earlier data rules (per-frame condition, random cuts, zoom or pan), which the shipped
        # models learnt: kept until FaceCam-mini is retrained on the official recipe (data.dataset.KIT_V1)
        data_options=dict(KIT_V1),
        text_dropout=0.0,  # no text encoder: the prompt is the empty embedding either way
        batch_size=DIT_BATCH,
        max_steps=max_steps,
        lr=DIT_LR,
        lr_scheduler="cosine",
        lr_warmup_steps=50,
        log_every=10,
        checkpoint_every=max_steps,
        validate_every=0,
        seed=SEED,
        tracker="tensorboard",
        progress=progress,
    )
    return TrainConfig(**{**settings, **overrides})


def train_mini_dits(work: Path, kinds=CAMERA_KINDS, progress: bool = True) -> dict:
    """Stage 3: train the three DiTs, each in its own process (``python -m facecam_kit.train``);
    a finished run is reused. Returns {kind: {"seconds", "history"}}."""
    import sys

    records = {}
    for kind in kinds:
        cfg = dit_config(work, kind, progress=progress)
        run = Path(cfg.output_dir)
        final = run / f"checkpoint-{cfg.max_steps:06d}"
        record_path = run / "record.json"
        if not record_path.is_file():
            config = run.with_suffix(".json")  # beside the run: the trainer starts in a folder of its own
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(json.dumps(cfg.to_dict(), indent=1) + "\n")
            t0 = time.perf_counter()
            if subprocess.run([sys.executable, "-m", "facecam_kit.train", str(config)]).returncode:
                raise ValueError(f"training the {kind} DiT failed (its error is above); rerun to resume from {work}")
            seconds = time.perf_counter() - t0
            history = json.loads((run / "loss_history.json").read_text())
            record_path.write_text(json.dumps({"seconds": round(seconds, 1), "history": history}) + "\n")
        records[kind] = {**json.loads(record_path.read_text()), "checkpoint": str(final)}
    return records


def export(work: Path, out: Path, vae_record: dict, dit_records: dict, seconds: dict, command: str) -> Path:
    """Write the shipped models and their provenance into ``out`` (replacing it whole)."""
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.models import save_mini

    vae = AutoencoderKLWan.from_pretrained(work / "vae")
    transformers = {kind: Path(r["checkpoint"]) / "transformer" for kind, r in dit_records.items()}
    provenance = {
        "command": command,
        "commit": git_commit(),
        "seeds": {"studio": STUDIO_SEED, "held_out_heads": TEST_SEED, "training": SEED},
        "settings": {
            "size": SIZE,
            "num_frames": NUM_FRAMES,
            "capture_frames": CAPTURE_FRAMES,
            "cameras": CAMERAS,
            "train_heads": TRAIN_HEADS,
            "test_heads": TEST_HEADS,
            "scene_scale_range": list(SCENE_SCALE_RANGE),
            "samples_per_capture": SAMPLES_PER_CAPTURE,
            "vae_steps": VAE_STEPS,
            "dit": {k: list(v) if isinstance(v, tuple) else v for k, v in DIT.items()},
            "dit_steps": DIT_STEPS,
            "dit_batch": DIT_BATCH,
            "dit_lr": DIT_LR,
        },
        "seconds": seconds,
        "vae": vae_record,
        "dits": {kind: {k: v for k, v in r.items() if k != "checkpoint"} for kind, r in dit_records.items()},
    }
    return save_mini(out, vae, transformers, provenance)


def _studio_seconds(root: Path) -> float:
    """How long a studio took to make (recorded when it was made; 0 for one made before that record)."""
    path = root / "seconds.json"
    return json.loads(path.read_text()) if path.is_file() else 0.0


@dataclass
class TrainMiniOptions:
    """Options of ``python -m facecam_kit train-mini``."""

    work: Path = field(default=Path("outputs/mini"), metadata={"help": "working folder (finished stages are reused)"})
    out: Path = field(default=OUT_DIR, metadata={"help": "where the models and their provenance go"})


#: written into ``--work`` when train-mini starts: the folder is FaceCam-mini's working folder
WORK_MARKER = "mini_work.json"


def check_train_mini(opts: TrainMiniOptions) -> None:
    """Before an hour of work: ``--out`` new, empty or an earlier export (it is replaced whole), and
    ``--work`` new, empty or an earlier working folder; both writable, and not one inside the other."""
    from facecam_kit.outputs import check_own_folder

    check_own_folder(opts.out, "provenance.json", "--out", "FaceCam-mini export")
    check_own_folder(opts.work, WORK_MARKER, "--work", "FaceCam-mini working folder")
    out, work = Path(opts.out).resolve(), Path(opts.work).resolve()
    if out == work or out in work.parents or work in out.parents:
        raise ValueError(f"--out {opts.out} and --work {opts.work} must be separate folders (--out is replaced)")


def run_train_mini(opts: TrainMiniOptions) -> list[Path]:
    """The ``train-mini`` job: :func:`check_train_mini`, then :func:`train_mini`; returns the files it wrote."""
    check_train_mini(opts)
    out = train_mini(
        opts.work, opts.out, command=f"python -m facecam_kit train-mini --work {opts.work} --out {opts.out}"
    )
    return sorted(p for p in out.rglob("*") if p.is_file())


def train_mini(work=Path("outputs/mini"), out=OUT_DIR, progress: bool = True, command: str = "") -> Path:
    """All stages: studios, VAE, three DiTs, export. Returns ``out``."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / WORK_MARKER).write_text(json.dumps({"job": "train-mini"}) + "\n")
    seconds = {"studios": sum(_studio_seconds(root) for root in make_mini_studios(work, progress))}
    vae_record = train_mini_vae(work, progress)
    dit_records = train_mini_dits(work, progress=progress)
    seconds.update({"vae": vae_record["seconds"], **{k: r["seconds"] for k, r in dit_records.items()}})
    return export(work, Path(out), vae_record, dit_records, seconds, command or "python -m facecam_kit train-mini")
