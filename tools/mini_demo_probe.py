"""Issue 36, item 6: FaceCam-mini's landmark network on the demo's own trajectories.

The demo (``make demo``: ReCamMaster's ``arc_left``) and notebook 06's Generate button (its default
orbit: azimuth -30 to 30, elevation 0 to 10, the lens 35 to 45 degrees) move the camera much more
than the experiment's moves at scale 1. This probe scores a landmark network on both, for the 12
held-out heads the gate uses (not only the demo's head 1), 33 frames each, with 95% bootstrap
intervals over heads: PSNR against the truth, the share of frames in which MediaPipe finds a face
(the truth's beside it), the copy-the-source control and the ceiling (the truth through the
pipeline's VAE). ``--samplers`` tries other samplers (``steps@start``,
:func:`facecam_kit.mini.pipeline.mini_sigmas`), ``--anchor-every`` re-anchors the landmark
condition, ``--clip-frames 33`` passes the video through the VAE at once (as the pipeline did before
session 4) instead of in the pipeline's clips. Each trajectory's face rates are also
broken down frame by frame (:func:`breakdown`).

    .venv/bin/python tools/mini_demo_probe.py                                  # the shipped network
    .venv/bin/python tools/mini_demo_probe.py --samplers 8@0.4 8@1.0 16@0.4 1@1.0
    # a network trained on past its recipe's steps: copy a train-mini run's checkpoint.pt into a
    # folder, write its RUN.json with that output_dir and more "steps", then
    .venv/bin/python -m facecam_kit.mini.unet_training RUN.json
    .venv/bin/python tools/mini_demo_probe.py --unet FOLDER/unet --name steps11000

Writes ``outputs/probe_demo/<name>.json`` and ``<name>_<sampler>.png`` (heads 0, 1 and 4 along
each trajectory: source, condition, truth, generated).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

OUT = Path("outputs/probe_demo")
HEADS = 12
SHOWN = (0, 1, 4)
#: the bins of :func:`breakdown`: degrees of turn, face height and centre offset in pixels (of 96)
BINS = {
    "turn": (0, 10, 20, 30, 40, 60),
    "face_px": (0, 30, 35, 40, 45, 50, 96),
    "offset_px": (0, 4, 8, 12, 16, 48),
    "head_deg": (0, 5, 10, 15, 20, 25, 40),
}
#: notebook 06's default slider values (notebooks/06_model_and_inference.ipynb, section 3)
NB06_ORBIT = dict(azimuth_start=-30, azimuth_end=30, elevation_start=0, elevation_end=10, fov_start=35, fov_end=45)


def demo_scenes(heads: int = HEADS, anchor_every: int | None = None) -> dict:
    """(trajectory name, head) -> the studio scene the demo or notebook 06 would film, its landmark
    condition anchored at frame 0 (``anchor_every`` None) or every ``anchor_every`` frames."""
    from facecam_kit.geometry.trajectory import load_trajectory
    from facecam_kit.mini.experiment import held_out_head, make_scene
    from facecam_kit.mini.recipe import GENERATE_FRAMES, SHIPPED, SIZE
    from facecam_kit.widgets import orbit_from_slider_values

    paths = {
        "arc_left": load_trajectory("arc_left", GENERATE_FRAMES).cameras(),
        "nb06_orbit": orbit_from_slider_values(NB06_ORBIT, GENERATE_FRAMES).cameras(),
    }
    made = {}
    for h in range(heads):
        head = held_out_head(h, SIZE, GENERATE_FRAMES, SHIPPED.test_seed)
        for name, path in paths.items():
            options = SHIPPED.scene_options() | {"anchor_every": anchor_every}
            made[name, h] = make_scene(head, path, 1.0, name, "demo", **options)
    return made


def score(pipe, scenes: dict, steps: int, start: float) -> dict:
    """Per trajectory: PSNR, face share, the truth's face share, the copy control and the ceiling (the
    truth through the pipeline's VAE), each a mean with its 95% bootstrap interval over heads, and
    per-head values; the face rates binned (:func:`breakdown`); ``clips``: the generated videos."""
    from facecam_kit.evaluation.fidelity import psnr
    from facecam_kit.evaluation.stats import paired_bootstrap
    from facecam_kit.mini.experiment import faces_found, generate_batch
    from facecam_kit.mini.vae import clips_tensor

    out, clips = {}, {}
    for name in sorted({k[0] for k in scenes}):
        keys = [k for k in scenes if k[0] == name]
        made = [scenes[k] for k in keys]
        videos = generate_batch(
            pipe, np.stack([s.source for s in made]), [s.condition for s in made], steps, 0, start=start
        )
        clips |= dict(zip(keys, videos))
        found = [faces_found(v) for v in videos]  # (F,) bool each: MediaPipe once a frame
        truth = [faces_found(s.target) for s in made]
        with torch.no_grad():
            trip = pipe.decode_latents(pipe.encode_video(clips_tensor(np.stack([s.target for s in made]))))
        trip = (trip.permute(0, 1, 3, 4, 2).numpy() * 255 + 0.5).astype(np.uint8)
        per = {
            "psnr_db": [psnr(v, s.target) for v, s in zip(videos, made)],
            "faces": [f.mean() for f in found],
            "faces_truth": [t.mean() for t in truth],
            "copy_psnr_db": [psnr(s.source, s.target) for s in made],
            "vae_psnr_db": [psnr(r, s.target) for r, s in zip(trip, made)],
        }
        out[name] = {k: paired_bootstrap(v) for k, v in per.items()}
        out[name]["per_head"] = {k: [round(float(x), 3) for x in v] for k, v in per.items()}
        out[name]["breakdown"] = breakdown(made, np.concatenate(found), np.concatenate(truth))
    return out | {"clips": clips}


def breakdown(scenes: list, found: np.ndarray, truth: np.ndarray) -> dict:
    """The face rates of the generated videos (``found``, (frames,) bool over the scenes' frames in
    order) and of the truth (``truth``), binned four ways (:data:`BINS`): ``turn``, how far each
    target camera is turned from the source camera (degrees); ``face_px``, how tall the face is in
    the target frame (its landmarks' extent); ``offset_px``, how far the face's centre sits from the
    frame's; ``head_deg``, how far the head itself is turned and nodded from straight ahead."""
    from facecam_kit.data.path_from_video import face_height_px
    from facecam_kit.geometry.camera import rotation_angle_deg

    lm = np.concatenate([s.target_landmarks for s in scenes])  # (frames, 478, 2)
    measures = {
        "turn": rotation_angle_deg(np.concatenate([s.extrinsics.reshape(-1, 3, 4)[:, :, :3] for s in scenes])),
        "face_px": face_height_px(lm),
        "offset_px": np.linalg.norm(lm.mean(1) - scenes[0].target.shape[1] / 2, axis=-1),
        "head_deg": rotation_angle_deg(np.concatenate([s.head_poses[:, :3, :3] for s in scenes])),
    }
    out = {}
    for name, value in measures.items():
        bins = zip(BINS[name][:-1], BINS[name][1:])
        masks = [((lo, hi), (value >= lo) & (value < hi)) for lo, hi in bins]
        out[name] = [
            {"bin": b, "frames": int(m.sum()), "faces": float(found[m].mean()), "faces_truth": float(truth[m].mean())}
            for b, m in masks
            if m.any()
        ]
    return out


def figure(scenes: dict, clips: dict, path: Path) -> None:
    """Heads :data:`SHOWN` along each trajectory: source, condition, truth and generated, 8 frames each."""
    import imageio.v3 as iio

    from facecam_kit.viz import montage

    rows = []
    for (name, h), s in scenes.items():
        if h in SHOWN:
            rows += [montage(v, 8) for v in (s.source, s.condition, s.target, clips[name, h])]
    iio.imwrite(path, np.concatenate(rows))


def main() -> None:
    from facecam_kit.mini.models import MINI_DIR, load_mini_pipeline, mini_pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unet", type=Path, help="a landmark network folder (default: the shipped one)")
    ap.add_argument("--samplers", nargs="+", default=["8@0.4"], help="steps@start, e.g. 8@0.4 (the shipped sampler)")
    ap.add_argument("--name", default="shipped")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--anchor-every", type=int, help="re-anchor the landmark condition every N frames")
    ap.add_argument("--clip-frames", type=int, help="the VAE's window in frames (default: the pipeline's)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.unet is None:
        pipe = load_mini_pipeline()
    else:  # rounded through float16, as the shipped weights are stored
        pipe = mini_pipeline(args.unet, MINI_DIR / "landmarks" / "vae", "landmarks", rounded=True)
    if args.clip_frames is not None:
        pipe.register_to_config(clip_frames=args.clip_frames)
    scenes = demo_scenes(anchor_every=args.anchor_every)
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for sampler in args.samplers:
        steps, start = int(sampler.split("@")[0]), float(sampler.split("@")[1])
        t0 = time.perf_counter()
        r = score(pipe, scenes, steps, start)
        figure(scenes, r.pop("clips"), OUT / f"{args.name}_{sampler}.png")
        results[sampler] = r
        for name, v in r.items():
            for measure, rows in v["breakdown"].items():
                cells = (f"{r['bin'][0]}-{r['bin'][1]}: {r['faces']:.0%} of {r['frames']}" for r in rows)
                print(f"{sampler:>6} {name:10s} faces by {measure}: " + ", ".join(cells))
            m = {k: v[k]["mean"] for k in ("psnr_db", "faces", "faces_truth", "copy_psnr_db", "vae_psnr_db")}
            print(
                f"{sampler:>6} {name:10s} {m['psnr_db']:.2f} dB [{v['psnr_db']['lo']:.2f}, {v['psnr_db']['hi']:.2f}], "
                f"faces {m['faces']:.0%} [{v['faces']['lo']:.0%}, {v['faces']['hi']:.0%}] "
                f"(truth {m['faces_truth']:.0%}), "
                f"copy {m['copy_psnr_db']:.2f} dB, VAE {m['vae_psnr_db']:.2f} dB; "
                f"head 1: {v['per_head']['psnr_db'][1]:.2f} dB, "
                f"{v['per_head']['faces'][1]:.0%} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    (OUT / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
