"""FaceCam-mini's generation time on this machine (issue 20's target: at most 1 s a clip of the
frames it learnt, on a CPU), and a long video (the demo's 33 frames: the network goes frame by frame).

    python benchmarks/bench_mini.py [--frames 5 33] [--steps 8] [--repeats 3]

Loads the shipped models (data_samples/facecam_mini), re-renders a held-out studio head along an
orbit with each of their networks (``mini.models.arms``) and prints the best wall time of
``--repeats`` runs, with the VAE's share, with the pipeline's default sampler.
"""

import argparse
import time

import torch

from facecam_kit.mini import experiment as ex
from facecam_kit.mini.experiment import generate, held_out_head, make_scene, trajectory_cameras
from facecam_kit.mini.models import arms, load_mini_pipeline
from facecam_kit.mini.pipeline import SAMPLER_STEPS
from facecam_kit.mini.recipe import GENERATE_FRAMES, SHIPPED, SIZE


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, nargs="+", default=[SHIPPED.num_frames, GENERATE_FRAMES])
    p.add_argument("--steps", type=int, default=SAMPLER_STEPS)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    pipes = {arm: load_mini_pipeline(arm) for arm in arms()}
    for frames in a.frames:
        h = held_out_head(1, SIZE, frames, SHIPPED.test_seed)
        path = trajectory_cameras("orbit_left", h.azimuth, frames, ex.SWEEP_ORBITS)
        scene = make_scene(h, path, 1.0, "orbit_left", "a", **SHIPPED.scene_options())
        print(f"{frames} frames at {SIZE}x{SIZE}, {a.steps} steps, {torch.get_num_threads()} threads")
        for arm, pipe in pipes.items():
            times = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                generate(pipe, scene, a.steps)
                times.append(time.perf_counter() - t0)
            with torch.no_grad():
                t0 = time.perf_counter()
                pipe.vae.decode(pipe.encode_video(torch.zeros(1, 3, frames, SIZE, SIZE)))
                vae = time.perf_counter() - t0
            print(f"  {arm:16s}: {min(times):.2f} s a video (best of {a.repeats}); VAE encode + decode {vae:.2f} s")


if __name__ == "__main__":
    main()
