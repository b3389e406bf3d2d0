"""The kit's jobs: ``render`` (FaceCam on a video along a trajectory) and ``demo`` (on the sample)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .trajectory import load_trajectory
from .video import write_video

RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS"


def label_random(frames: np.ndarray) -> np.ndarray:
    """Burn a 'random weights' banner into (F, H, W, 3) uint8 frames."""
    import cv2

    out = frames.copy()
    scale = float(np.clip(out.shape[2] / 300, 0.28, 0.8))  # fit the label to the frame width
    for f in out:
        cv2.rectangle(f, (0, 0), (f.shape[1], int(30 * scale) + 4), (0, 0, 0), -1)
        cv2.putText(f, RANDOM_WEIGHTS_LABEL, (3, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    1, cv2.LINE_AA)
    return out


def render(video, trajectory, out_dir, weights=None, name: str | None = None, num_frames: int = 81,
           height: int = 704, width: int = 480, steps: int = 50, guidance_scale: float = 5.0, seed: int = 0,
           condition: str = "analytic", prompt_embeds=None, low_vram: bool = False,
           progress: bool = True) -> list[Path]:
    """Re-render ``video`` along ``trajectory`` (a preset name, a JSON file or a trajectory).

    Writes ``<name>_input.mp4`` (the cropped input), ``<name>_camera.mp4`` (the landmark condition),
    ``<name>_anchor.mp4`` / ``<name>_anchor_mask.mp4`` (the geometric re-rendering of the first
    frame) and, with ``weights``, ``<name>.mp4`` (the generated video). ``condition``: "analytic"
    (project the generic head's landmarks) or "proxy" (render the proxy head, run MediaPipe: the
    official path). ``low_vram``: model CPU offload and VAE tiling, for GPUs under ~48 GB. Without
    weights it prints what to download and where.
    """
    import torch

    from .anchor import photo_anchor_video
    from .condition import condition_video
    from .landmarks import detect_landmarks
    from .video import load_input_video
    from .weights import DOWNLOAD_HELP, load_pipeline

    traj = load_trajectory(trajectory, num_frames)
    if condition not in ("analytic", "proxy"):
        raise ValueError(f"condition must be 'analytic' or 'proxy', got {condition!r}")
    out_dir = Path(out_dir)
    name = name or Path(video).stem
    frames, _ = load_input_video(video, num_frames, height, width)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_video(out_dir / f"{name}_input.mp4", frames)]

    if condition == "analytic":
        cond = condition_video(traj, height=height, width=width)
    else:
        from .proxy_head import make_proxy_head, proxy_condition_video
        cond = proxy_condition_video(make_proxy_head(), traj, height, width, progress=progress)[0]
    written.append(write_video(out_dir / f"{name}_camera.mp4", cond))

    anchor, mask, _ = photo_anchor_video(frames[0], detect_landmarks(frames[0], f"the first frame of {video}"),
                                         traj.cameras(), height=height, width=width)
    written.append(write_video(out_dir / f"{name}_anchor.mp4", anchor))
    written.append(write_video(out_dir / f"{name}_anchor_mask.mp4", np.repeat(mask[..., None] * np.uint8(255), 3, -1)))

    if weights is None:
        print(f"No --weights given: wrote the input, condition and anchor videos only.\n\n{DOWNLOAD_HELP}")
        return written
    cuda = torch.cuda.is_available()
    pipe = load_pipeline(weights, torch.bfloat16 if cuda else torch.float32)
    if cuda and low_vram:  # experts, VAE and text encoder visit the GPU one at a time
        pipe.enable_model_cpu_offload()
        pipe.vae.enable_tiling()
    else:
        pipe = pipe.to("cuda" if cuda else "cpu")
    pipe.set_progress_bar_config(disable=not progress)
    result = generate_preview(pipe, frames, traj, steps, seed, guidance_scale, prompt_embeds, cond)
    written.append(write_video(out_dir / f"{name}.mp4", result["generated"]))
    return written


def demo(out_dir, trajectory: str = "arc_left", weights=None, num_frames: int = 81) -> list[Path]:
    """The main job on the bundled sample: :func:`render` on ``sample_clip.mp4``, plus
    ``sample_landmarks.png`` (the detected mesh over the photo), ``sample_proxy.mp4`` (the proxy
    head rendered along the trajectory) and ``sample_camera_path.html`` (the cameras in 3D)."""
    import imageio.v3 as iio

    from .condition import draw_condition
    from .data import data_path, load_sample_portrait
    from .landmarks import detect_landmarks
    from .proxy_head import make_proxy_head
    from .render import render_video
    from .template import load_template
    from .viz import camera_figure

    traj = load_trajectory(trajectory, num_frames)  # validate before any work
    out_dir = Path(out_dir)
    written = render(data_path("sample_clip.mp4"), traj, out_dir, weights, "sample", num_frames)
    portrait = load_sample_portrait()
    lm = detect_landmarks(portrait, "the sample portrait")
    h, w = portrait.shape[:2]
    iio.imwrite(out_dir / "sample_landmarks.png", draw_condition(lm, h, w, background=portrait))
    written.append(out_dir / "sample_landmarks.png")
    written.append(write_video(out_dir / "sample_proxy.mp4", render_video(make_proxy_head().gaussians, traj.cameras())))
    fig = camera_figure({Path(str(trajectory)).stem: traj.cameras()}, {"generic head": load_template()},
                        title=f"Camera path '{Path(str(trajectory)).stem}' around the proxy head")
    fig.write_html(out_dir / "sample_camera_path.html", include_plotlyjs=True)
    written.append(out_dir / "sample_camera_path.html")
    return written


def generate_preview(pipe, video: np.ndarray, trajectory, steps: int = 50, seed: int = 0,
                     guidance_scale: float = 5.0, prompt_embeds=None, condition: np.ndarray | None = None) -> dict:
    """The Generate button's callback: run FaceCam on a prepared source video along a trajectory.

    video: (F, H, W, 3) uint8, already cropped (``load_input_video``); trajectory: an Orbit or
    Preset trajectory; condition: its condition video (default: the analytic path). Pipelines
    without a text encoder get fixed prompt embeddings (zeros unless given). Returns uint8 videos
    ``input``, ``condition`` and ``generated`` (labelled when the pipeline has random weights)
    and ``seconds`` (wall time of the generation).
    """
    import time

    import torch

    from .condition import condition_video

    f, h, w = video.shape[:3]
    trajectory = load_trajectory(trajectory, f)
    cond = condition_video(trajectory, height=h, width=w) if condition is None else condition
    kwargs = {}
    if pipe.text_encoder is None:
        emb = torch.zeros(1, 16, pipe.transformer.config.text_dim) if prompt_embeds is None else prompt_embeds
        kwargs = dict(prompt_embeds=emb, negative_prompt_embeds=torch.zeros_like(emb))
    t0 = time.perf_counter()
    out = pipe(video, cond, num_inference_steps=steps, guidance_scale=guidance_scale,
               generator=torch.Generator().manual_seed(seed), **kwargs)
    seconds = time.perf_counter() - t0
    generated = (out.frames[0] * 255 + 0.5).astype(np.uint8)
    return {"input": video, "condition": cond,
            "generated": label_random(generated) if out.random_weights else generated, "seconds": seconds}
