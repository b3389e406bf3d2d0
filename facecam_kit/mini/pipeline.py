"""FaceCam-mini as a diffusers pipeline: the source video and a camera condition in, the re-rendered video out.

:class:`FaceCamMiniPipeline` holds a :class:`~facecam_kit.mini.unet.MiniUNet`, the mini VAE
(``AutoencoderKLWan`` without temporal compression: one latent frame a frame) and a flow-matching
Euler scheduler without shift. A call:

1. encodes the source video and, for FaceCam's arm, the landmark condition video (posterior mode,
   normalised as Wan's), in windows of ``clip_frames`` (the clips it trained on): the causal VAE
   carries a memory from window to window, so a longer video encoded at once gives its later
   frames latents the network never saw (on 33 frames, frames 5 on differ by 0.1-0.5 a value, and
   MediaPipe found a face in 10-19 points fewer of the demo's frames, ``docs/mini_probes.md``);
2. starts every frame from the same noise (:func:`facecam_kit.mini.unet.shared_noise`): the network re-renders frame by
   frame, so frames then differ only by their source and camera, not by their noise;
3. steps the flow from noise to the clean latent along :func:`mini_sigmas`: by default one step
   from pure noise to ``start = 0.4`` (which lands on 40% noise around the network's estimate of
   the conditional mean, the layout and colours), then even steps to 0 that add the detail. The
   network predicts the clean latent; the velocity the scheduler steps is ``(x_t - x0) / s``;
4. decodes the latents, in the same windows.

Issue 36 chose the sampler (8 steps from 0.4) on held-out heads: the plain 20-step sampler from
pure noise scored 1.6 dB lower on the same weights (``docs/mini_probes.md``).

Taught in notebook 09 (FaceCam-mini); notebook 06's Generate button and ``make demo`` call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.utils import BaseOutput

from facecam_kit.mini.recipe import SHIPPED
from facecam_kit.mini.unet import MiniUNet, camera_per_frame, frames_back, frames_first, shared_noise
from facecam_kit.mini.vae import spatial_compression
from facecam_kit.model.pipeline import normalise_latents, video_tensor
from facecam_kit.spec import CAMERA_KINDS, check_num_frames

#: the sampler's default, the shipped recipe's: steps, and the noise level the first step lands on
SAMPLER_STEPS = SHIPPED.sampler_steps
SAMPLER_START = SHIPPED.sampler_start
#: a side of the frame must be a multiple of this: the VAE's 4 x the UNet's two downsamplings
FRAME_MULTIPLE = 16


@dataclass
class FaceCamMiniPipelineOutput(BaseOutput):
    """frames: the generated video, (B, F, H, W, 3) float in [0, 1] for ``output_type="np"``, a
    tensor (B, F, 3, H, W) for "pt", the latents (B, z, F, h, w) for "latent"."""

    frames: np.ndarray | torch.Tensor


def make_mini_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """Flow-matching Euler without shift: the sigmas :func:`mini_sigmas` gives are the ones stepped."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


def mini_sigmas(steps: int, start: float = SAMPLER_START) -> np.ndarray:
    """The noise levels of a ``steps``-step sampler (the scheduler appends the final 0): from 1, one
    step to ``start`` and ``steps - 1`` even steps to 0; ``start`` 1 is the plain even sampler."""
    if steps < 1 or not 0 < start <= 1:
        raise ValueError(f"steps must be >= 1 and start in (0, 1], got steps={steps}, start={start}")
    if start >= 1:
        return np.linspace(1.0, 0.0, steps + 1)[:-1]
    return np.concatenate([[1.0], np.linspace(start, 0.0, steps)[:-1]])


def clip_windows(num_frames: int, clip_frames: int) -> list[tuple[int, int, int]]:
    """The windows a ``num_frames`` video is passed through the VAE in: ``(start, stop, keep)``, frames
    ``start:stop`` of which those from ``start + keep`` on are kept. Consecutive clips of
    ``clip_frames``; a last clip too short ends at the last frame and overlaps the one before it
    (the VAE reads 4k+1 frames), keeping only its new frames. A video no longer than a clip is one window."""
    if num_frames <= clip_frames:
        return [(0, num_frames, 0)]
    return [
        (start, start + clip_frames, 0) if start + clip_frames <= num_frames
        else (num_frames - clip_frames, num_frames, start - num_frames + clip_frames)
        for start in range(0, num_frames, clip_frames)
    ]  # fmt: skip


class FaceCamMiniPipeline(DiffusionPipeline):
    """FaceCam-mini: re-render a portrait video along a camera condition (module docstring).

    Components: ``unet`` (:class:`MiniUNet`), ``vae`` (``AutoencoderKLWan``, no temporal
    compression), ``scheduler``. ``camera_kind``: landmarks (FaceCam), plucker (FactorPortrait's
    rays) or extrinsics (ReCamMaster's poses, with the intrinsics when the UNet takes 20 numbers).
    ``clip_frames``: the frames of the clips it trained on (4k+1): the VAE encodes and decodes a
    longer video in windows of that many frames (module docstring).
    """

    model_cpu_offload_seq = "unet->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        unet: MiniUNet,
        vae: AutoencoderKLWan,
        scheduler: FlowMatchEulerDiscreteScheduler,
        camera_kind: str = "landmarks",
        clip_frames: int = SHIPPED.num_frames,
    ):
        super().__init__()
        check_num_frames(clip_frames, "clip_frames", limit=None)
        if camera_kind not in CAMERA_KINDS:
            raise ValueError(f"camera_kind must be one of {', '.join(CAMERA_KINDS)}, got {camera_kind!r}")
        if any(vae.config.temperal_downsample):
            raise ValueError(
                "FaceCam-mini re-renders frame by frame: its VAE must keep every frame (no temporal_downsample)"
            )
        if unet.config.latent_channels != vae.config.z_dim:
            raise ValueError(
                f"the UNet takes {unet.config.latent_channels} latent channels, the VAE makes {vae.config.z_dim}"
            )
        is_map = unet.config.camera_channels > 0
        if is_map != (camera_kind != "extrinsics"):
            raise ValueError(
                f"camera_kind {camera_kind!r} needs a UNet that reads the camera "
                f"{'as numbers' if is_map else 'on channels'}"
            )
        self.register_modules(unet=unet, vae=vae, scheduler=scheduler)
        self.register_to_config(camera_kind=camera_kind, clip_frames=clip_frames)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """Normalised latents (B, z, F, h, w) of a (B, 3, F, H, W) video in [-1, 1] (posterior mode),
        window by window (:func:`clip_windows`)."""
        video = video.to(self._execution_device, self.vae.dtype)
        encode = lambda v: normalise_latents(self.vae, self.vae.encode(v).latent_dist.mode())
        windows = clip_windows(video.shape[2], self.config.clip_frames)
        return torch.cat([encode(video[:, :, a:b])[:, :, keep:] for a, b, keep in windows], 2)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, z, F, h, w) normalised latents -> (B, F, 3, H, W) frames in [0, 1], window by window."""
        z = normalise_latents(self.vae, latents.to(self.vae.dtype), inverse=True)
        windows = clip_windows(z.shape[2], self.config.clip_frames)
        decoded = torch.cat(
            [self.vae.decode(z[:, :, a:b], return_dict=False)[0][:, :, keep:] for a, b, keep in windows], 2
        )
        return ((decoded.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 1, 3, 4)

    def _camera(self, camera_condition, source: torch.Tensor) -> torch.Tensor:
        """The camera condition, checked against the source latents (B, z, F, h, w), per frame."""
        kind, (b, _, f, h, w) = self.config.camera_kind, source.shape
        if kind == "landmarks":
            cam, s = video_tensor(camera_condition, "camera_condition"), spatial_compression(self.vae)
            if tuple(cam.shape) != (b, 3, f, h * s, w * s):
                want = (b, 3, f, h * s, w * s)
                raise ValueError(
                    f"camera_condition must be the landmark video {want}, like the source; got {tuple(cam.shape)}"
                )
            return camera_per_frame(kind, self.encode_video(cam))
        cam = torch.as_tensor(camera_condition).float()
        want = (
            (b, self.unet.config.camera_channels, f, h, w) if kind == "plucker" else (b, f, self.unet.config.camera_dim)
        )
        if tuple(cam.shape) != want:
            raise ValueError(f"camera_condition for camera_kind {kind!r} must be {want}, got {tuple(cam.shape)}")
        return camera_per_frame(kind, cam.to(self._execution_device))

    @torch.no_grad()
    def __call__(
        self,
        video,
        camera_condition,
        num_inference_steps: int = SAMPLER_STEPS,
        start: float = SAMPLER_START,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
    ):
        """Re-render ``video`` along ``camera_condition``.

        video: (F, H, W, 3) uint8 or (B, 3, F, H, W) in [-1, 1], H and W multiples of 16, F = 4k+1
        (the VAE's chunks; the network itself goes frame by frame, so F may be long);
        camera_condition: landmarks: the condition video, same shape; plucker: (B, 6, F, H/4, W/4)
        ray maps; extrinsics: (B, F, 12) poses (20 with the intrinsics). ``latents``: the starting
        noise (B, z, F, H/4, W/4) (default :func:`shared_noise` from ``generator``).
        ``callback_on_step_end(pipe, i, t, {"latents": ...})`` may return new latents.
        Returns :class:`FaceCamMiniPipelineOutput` (a tuple with ``return_dict=False``).
        """
        src = video_tensor(video, "video")
        check_num_frames(src.shape[2], "the video's frame count", limit=None)  # Wan's VAE reads 4k+1 frames
        h, w = src.shape[-2:]
        if h % FRAME_MULTIPLE or w % FRAME_MULTIPLE:
            raise ValueError(f"frame size must be a multiple of {FRAME_MULTIPLE} px a side, got {h}x{w}")
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"output_type must be 'np', 'pt' or 'latent', got {output_type!r}")
        bad = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise ValueError(f"callback_on_step_end_tensor_inputs must be in {self._callback_tensor_inputs}, got {bad}")
        sigmas = mini_sigmas(num_inference_steps, start)
        source = self.encode_video(src)
        camera = self._camera(camera_condition, source)
        b = source.shape[0]
        if latents is None:
            latents = shared_noise(source.shape, generator)
        elif latents.shape != source.shape:
            raise ValueError(f"latents must be {tuple(source.shape)}, got {tuple(latents.shape)}")
        latents = latents.to(self._execution_device, torch.float32)
        src_frames = frames_first(source).to(self.unet.dtype)

        self.scheduler.set_timesteps(sigmas=sigmas, device=self._execution_device)
        with self.progress_bar(total=len(self.scheduler.timesteps)) as bar:
            for i, t in enumerate(self.scheduler.timesteps):
                sigma = self.scheduler.sigmas[i]
                x = frames_first(latents)
                x0 = self.unet(x.to(self.unet.dtype), t.expand(len(x)), src_frames, camera, return_dict=False)[0]
                velocity = frames_back((x - x0.float()) / sigma, b)
                latents = self.scheduler.step(velocity, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    latents = callback_on_step_end(self, i, t, {"latents": latents}).get("latents", latents)
                bar.update()

        frames = latents if output_type == "latent" else self.decode_latents(latents)
        if output_type == "np":
            frames = frames.permute(0, 1, 3, 4, 2).cpu().numpy()
        self.maybe_free_model_hooks()
        return FaceCamMiniPipelineOutput(frames=frames) if return_dict else (frames,)


def tiny_mini_pipeline(camera_kind: str = "landmarks", seed: int = 0, z_dim: int = 8) -> FaceCamMiniPipeline:
    """FaceCam-mini at toy size with random weights (seeded), for tests: a VAE of ``z_dim`` channels
    (space / 4, every frame kept) and a two-level UNet (16, 32); a 32 x 32 frame is an 8 x 8 latent."""
    from facecam_kit.mini.unet import camera_layout
    from facecam_kit.mini.vae import MINI_VAE_CONFIG, mini_vae

    config = {
        **MINI_VAE_CONFIG,
        "z_dim": z_dim,
        "base_dim": 8,
        "dim_mult": [1, 2, 4],
        "temperal_downsample": [False] * 2,
    }
    vae = mini_vae(seed, np.zeros(z_dim), np.ones(z_dim), config=config).eval()
    torch.manual_seed(seed)
    unet = MiniUNet(latent_channels=z_dim, sample_size=8, block_out_channels=(16, 32), attention_head_dim=16,
                    **camera_layout(camera_kind, z_dim, 20))  # fmt: skip
    pipe = FaceCamMiniPipeline(unet.eval(), vae, make_mini_scheduler(), camera_kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe
