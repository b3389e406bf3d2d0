"""The kit's jobs: ``render`` (FaceCam on a video along a trajectory) and ``demo`` (on the sample).

The Generate button of notebook 06 calls :func:`generate_video`.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from pathlib import Path

import numpy as np

from facecam_kit.geometry.trajectory import load_trajectory
from facecam_kit.spec import GUIDANCE_SCALE, HEIGHT, NUM_FRAMES, NUM_STEPS, WIDTH
from facecam_kit.video import write_video

RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS"
CONDITIONS = ("analytic", "proxy")
_TRAJECTORY_HELP = "a ReCamMaster preset name (pan_left, arc_right, ...) or a trajectory JSON file"
_WEIGHTS_HELP = (
    "local weights: a saved FaceCamPipeline, or a folder with Wan2.2-I2V-A14B-Diffusers/, "
    "facecam_high_noise/ and facecam_low_noise/"
)


def _opt(help_: str, default=MISSING, **meta):
    return field(default=default, metadata={"help": help_, **meta})


@dataclass
class RenderOptions:
    """Options of the ``render`` job (and of ``python -m facecam_kit render``)."""

    video: Path = _opt("the source portrait video")
    trajectory: str = _opt(_TRAJECTORY_HELP)
    out: Path = _opt("output folder")
    weights: Path | None = _opt(_WEIGHTS_HELP, None)
    name: str | None = _opt("output name (default: the video's file name)", None)
    frames: int = _opt("frames (4k+1); official", NUM_FRAMES)
    height: int = _opt("frame height, a multiple of 16; official", HEIGHT)
    width: int = _opt("frame width, a multiple of 16; official", WIDTH)
    steps: int = _opt("denoising steps; official", NUM_STEPS)
    guidance: float = _opt("classifier-free guidance scale; official", GUIDANCE_SCALE)
    seed: int = _opt("seed of the initial noise", 0)
    condition: str = _opt(
        "analytic: project the generic head's landmarks (fast); proxy: the official path, "
        "render the proxy head and run MediaPipe on every frame",
        "analytic",
        choices=CONDITIONS,
    )
    low_vram: bool = _opt("model CPU offload and VAE tiling (GPUs under ~48 GB)", False)


@dataclass
class DemoOptions:
    """Options of the ``demo`` job: ``render`` on the bundled sample clip, plus figures."""

    out: Path = _opt("output folder", Path("outputs/demo"))
    trajectory: str = _opt(_TRAJECTORY_HELP, "arc_left")
    weights: Path | None = _opt(_WEIGHTS_HELP, None)
    frames: int = _opt("frames to generate (4k+1)", NUM_FRAMES)


def label_random(frames: np.ndarray) -> np.ndarray:
    """Burn a 'random weights' banner into (F, H, W, 3) uint8 frames."""
    import cv2

    out = frames.copy()
    scale = float(np.clip(out.shape[2] / 300, 0.28, 0.8))  # fit the label to the frame width
    for f in out:
        cv2.rectangle(f, (0, 0), (f.shape[1], int(30 * scale) + 4), (0, 0, 0), -1)
        cv2.putText(
            f,
            RANDOM_WEIGHTS_LABEL,
            (3, int(24 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out


def run_render(opts: RenderOptions, prompt_embeds=None, progress: bool = True) -> list[Path]:
    """Re-render ``opts.video`` along ``opts.trajectory`` (a preset name, a JSON file or a trajectory).

    Writes ``<name>_input.mp4`` (the cropped input), ``<name>_camera.mp4`` (the landmark condition),
    ``<name>_anchor.mp4`` / ``<name>_anchor_mask.mp4`` (the geometric re-rendering of the first
    frame) and, with ``opts.weights``, ``<name>.mp4`` (the generated video). ``condition``: "analytic"
    (project the generic head's landmarks) or "proxy" (render the proxy head, run MediaPipe: the
    official path). ``low_vram``: model CPU offload and VAE tiling, for GPUs under ~48 GB. Without
    weights it prints what to download and where.
    """
    import torch

    from facecam_kit.baselines.recapture import photo_anchor_video
    from facecam_kit.data.input_video import load_input_video
    from facecam_kit.face.condition import condition_video
    from facecam_kit.face.landmarks import detect_landmarks
    from facecam_kit.model.weights import DOWNLOAD_HELP, load_pipeline

    video, height, width = opts.video, opts.height, opts.width
    traj = load_trajectory(opts.trajectory, opts.frames)
    if opts.condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {opts.condition!r}")
    out_dir = Path(opts.out)
    name = opts.name or Path(video).stem
    frames, _ = load_input_video(video, opts.frames, height, width)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_video(out_dir / f"{name}_input.mp4", frames)]

    if opts.condition == "analytic":
        cond = condition_video(traj, height=height, width=width)
    else:
        from facecam_kit.proxy.head import make_proxy_head, proxy_condition_video

        cond = proxy_condition_video(make_proxy_head(), traj, height, width, progress=progress)[0]
    written.append(write_video(out_dir / f"{name}_camera.mp4", cond))

    anchor, mask, _ = photo_anchor_video(
        frames[0],
        detect_landmarks(frames[0], f"the first frame of {video}"),
        traj.cameras(),
        height=height,
        width=width,
    )
    written.append(write_video(out_dir / f"{name}_anchor.mp4", anchor))
    written.append(write_video(out_dir / f"{name}_anchor_mask.mp4", np.repeat(mask[..., None] * np.uint8(255), 3, -1)))

    if opts.weights is None:
        print(f"No --weights given: wrote the input, condition and anchor videos only.\n\n{DOWNLOAD_HELP}")
        return written
    cuda = torch.cuda.is_available()
    pipe = load_pipeline(opts.weights, torch.bfloat16 if cuda else torch.float32)
    if cuda and opts.low_vram:  # experts, VAE and text encoder visit the GPU one at a time
        pipe.enable_model_cpu_offload()
        pipe.vae.enable_tiling()
    else:
        pipe = pipe.to("cuda" if cuda else "cpu")
    pipe.set_progress_bar_config(disable=not progress)
    result = generate_video(pipe, frames, traj, opts.steps, opts.seed, opts.guidance, prompt_embeds, cond)
    written.append(write_video(out_dir / f"{name}.mp4", result["generated"]))
    return written


def run_demo(opts: DemoOptions) -> list[Path]:
    """The main job on the bundled sample: :func:`run_render` on ``sample_clip.mp4``, plus
    ``sample_landmarks.png`` (the detected mesh over the photo), ``sample_proxy.mp4`` (the proxy
    head rendered along the trajectory) and ``sample_camera_path.html`` (the cameras in 3D)."""
    import imageio.v3 as iio

    from facecam_kit.assets import data_path, load_sample_portrait
    from facecam_kit.face.condition import draw_condition
    from facecam_kit.face.landmarks import detect_landmarks
    from facecam_kit.face.template import load_template
    from facecam_kit.proxy.head import make_proxy_head
    from facecam_kit.proxy.rasterise import render_video
    from facecam_kit.viz import camera_figure

    trajectory = opts.trajectory
    traj = load_trajectory(trajectory, opts.frames)  # validate before any work
    out_dir = Path(opts.out)
    written = run_render(
        RenderOptions(data_path("sample_clip.mp4"), traj, out_dir, opts.weights, "sample", opts.frames)
    )
    portrait = load_sample_portrait()
    lm = detect_landmarks(portrait, "the sample portrait")
    h, w = portrait.shape[:2]
    iio.imwrite(out_dir / "sample_landmarks.png", draw_condition(lm, h, w, background=portrait))
    written.append(out_dir / "sample_landmarks.png")
    written.append(write_video(out_dir / "sample_proxy.mp4", render_video(make_proxy_head().gaussians, traj.cameras())))
    fig = camera_figure(
        {Path(str(trajectory)).stem: traj.cameras()},
        {"generic head": load_template()},
        title=f"Camera path '{Path(str(trajectory)).stem}' around the proxy head",
    )
    fig.write_html(out_dir / "sample_camera_path.html", include_plotlyjs=True)
    written.append(out_dir / "sample_camera_path.html")
    return written


def generate_video(
    pipe,
    video: np.ndarray,
    trajectory,
    steps: int = NUM_STEPS,
    seed: int = 0,
    guidance_scale: float = GUIDANCE_SCALE,
    prompt_embeds=None,
    condition: np.ndarray | None = None,
) -> dict:
    """The Generate button's callback: run FaceCam on a prepared source video along a trajectory.

    video: (F, H, W, 3) uint8, already cropped (``load_input_video``); trajectory: an Orbit or
    Preset trajectory; condition: its condition video (default: the analytic path). Pipelines
    without a text encoder get fixed prompt embeddings (zeros unless given). Returns uint8 videos
    ``input``, ``condition`` and ``generated`` (labelled when the pipeline has random weights)
    and ``seconds`` (wall time of the generation).
    """
    import time

    import torch

    from facecam_kit.face.condition import condition_video

    f, h, w = video.shape[:3]
    trajectory = load_trajectory(trajectory, f)
    cond = condition_video(trajectory, height=h, width=w) if condition is None else condition
    kwargs = {}
    if pipe.text_encoder is None:
        emb = torch.zeros(1, 16, pipe.transformer.config.text_dim) if prompt_embeds is None else prompt_embeds
        kwargs = dict(prompt_embeds=emb, negative_prompt_embeds=torch.zeros_like(emb))
    t0 = time.perf_counter()
    out = pipe(
        video,
        cond,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )
    seconds = time.perf_counter() - t0
    generated = (out.frames[0] * 255 + 0.5).astype(np.uint8)
    return {
        "input": video,
        "condition": cond,
        "generated": label_random(generated) if out.random_weights else generated,
        "seconds": seconds,
    }
