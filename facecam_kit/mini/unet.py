"""FaceCam-mini's network: a UNet on the VAE's latents that re-renders a video frame by frame.

Issue 36's probes (``docs/mini_probes.md``) chose it over the Wan DiT at this size, which saw a
frame as 6 x 6 tokens and did not read its source. Every arm of the experiment is this one
network; only the camera input differs:

* inputs on channels, per frame (N = batch x frames): the noisy target latent ``sample`` (z, h, w),
  the source frame's latent (z, h, w) and, for a camera given as an image, its map at the
  latent's size: FaceCam's landmark condition through the VAE (z channels; FaceCam* is the same
  network given the generic head's raster), or FactorPortrait's Plücker rays (6 channels);
* a camera given as numbers, ReCamMaster's extrinsics (12, or 20 told the intrinsics), goes
  through a small MLP into the timestep embedding (diffusers' ``class_embed_type="identity"``);
* it predicts the clean latent (x0) at noise level ``timestep / 1000`` (flow matching,
  ``x_t = (1 - s) x0 + s eps``); the pipeline turns it into a velocity.

The departure from FaceCam's layout, and why: FaceCam puts the source beside the target along
*frames* and lets attention find it; at this size that design did not read its source (a
swapped source changed its estimate by under 2%). Here the source frame sits on the target
frame's *channels*, pixel-aligned, as Stable Video Diffusion and Zero-1-to-3 condition, so a
frame is re-rendered from its own source frame (the anchor condition holds the camera; the head's
motion comes from the source, as in FaceCam's training).

Taught in notebook 09 (FaceCam-mini); run by :class:`facecam_kit.mini.pipeline.FaceCamMiniPipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin, UNet2DModel
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput

from facecam_kit.spec import CAMERA_KINDS

#: channels of a Plücker ray map (moment o x d, direction d)
PLUCKER_CHANNELS = 6


def camera_layout(camera_kind: str, z_dim: int, camera_dim: int = 12) -> dict:
    """:class:`MiniUNet`'s ``camera_channels`` and ``camera_dim`` for a camera kind: landmarks (the
    condition's latent, ``z_dim`` channels), plucker (6 channels) or extrinsics (``camera_dim``
    numbers: 12, or 20 with the intrinsics)."""
    layouts = {
        "landmarks": {"camera_channels": z_dim, "camera_dim": 0},
        "plucker": {"camera_channels": PLUCKER_CHANNELS, "camera_dim": 0},
        "extrinsics": {"camera_channels": 0, "camera_dim": camera_dim},
    }
    if camera_kind not in layouts:
        raise ValueError(f"camera_kind must be one of {', '.join(CAMERA_KINDS)}, got {camera_kind!r}")
    return layouts[camera_kind]


@dataclass
class MiniUNetOutput(BaseOutput):
    """sample: the predicted clean latent, (N, z, h, w)."""

    sample: torch.Tensor


class MiniUNet(ModelMixin, ConfigMixin):
    """x0 of a target latent frame from ``[x_t | source | camera map]`` on channels (module docstring).

    latent_channels: the VAE's z; camera_channels: the camera map's channels (0 for extrinsics);
    camera_dim: the camera vector's length (0 for a map); block_out_channels: the UNet's widths, one
    downsampling between each, attention at the coarsest (6 x 6 for a 24 x 24 latent).
    """

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 32,
        camera_channels: int = 32,
        camera_dim: int = 0,
        sample_size: int = 24,
        block_out_channels: tuple[int, ...] = (32, 64, 128),
        attention_head_dim: int = 32,
        norm_num_groups: int = 8,
    ):
        super().__init__()
        if (camera_channels > 0) == (camera_dim > 0):
            raise ValueError(
                f"give the camera as a map or as numbers: camera_channels {camera_channels}, camera_dim {camera_dim}"
            )
        n = len(block_out_channels)
        self.unet = UNet2DModel(
            sample_size=sample_size,
            in_channels=2 * latent_channels + camera_channels,
            out_channels=latent_channels,
            block_out_channels=tuple(block_out_channels),
            down_block_types=("DownBlock2D",) * (n - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (n - 1),
            layers_per_block=1,
            attention_head_dim=attention_head_dim,
            norm_num_groups=norm_num_groups,
            class_embed_type="identity" if camera_dim else None,
        )
        width = 4 * block_out_channels[0]  # the timestep embedding's
        self.camera_embedding = (
            torch.nn.Sequential(torch.nn.Linear(camera_dim, width), torch.nn.SiLU(), torch.nn.Linear(width, width))
            if camera_dim
            else None
        )

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, source: torch.Tensor, camera: torch.Tensor, return_dict=True
    ):
        """sample, source: (N, z, h, w); timestep: (N,) in [0, 1000]; camera: (N, camera_channels, h, w)
        or (N, camera_dim). Returns :class:`MiniUNetOutput` (a tuple with ``return_dict=False``)."""
        if self.camera_embedding is None:
            out = self.unet(torch.cat([sample, source, camera.to(sample.dtype)], 1), timestep).sample
        else:
            emb = self.camera_embedding(camera.to(sample.dtype))
            out = self.unet(torch.cat([sample, source], 1), timestep, class_labels=emb).sample
        return MiniUNetOutput(sample=out) if return_dict else (out,)


def frames_first(video: torch.Tensor) -> torch.Tensor:
    """(B, C, F, h, w) -> (B * F, C, h, w): a video's frames as a batch of images."""
    return video.permute(0, 2, 1, 3, 4).flatten(0, 1)


def frames_back(images: torch.Tensor, batch: int) -> torch.Tensor:
    """(B * F, C, h, w) -> (B, C, F, h, w): the inverse of :func:`frames_first`."""
    return images.unflatten(0, (batch, -1)).permute(0, 2, 1, 3, 4)


def camera_per_frame(camera_kind: str, camera: torch.Tensor) -> torch.Tensor:
    """A clip's camera condition as :class:`MiniUNet` takes it, one row per frame.

    camera: landmarks (B, z, F, h, w) latents of the condition video; plucker (B, 6, F, h, w) ray
    maps at latent resolution; extrinsics (B, F, D) poses (D = 12, or 20 with the intrinsics).
    Returns (B * F, C, h, w) or (B * F, D).
    """
    if camera_kind == "extrinsics":
        return camera.flatten(0, 1)
    return frames_first(camera)


def shared_noise(shape, generator: torch.Generator | None = None) -> torch.Tensor:
    """Noise of ``shape`` (B, z, F, h, w), the same for every frame: (B, z, 1, h, w) drawn, expanded
    (the network goes frame by frame: frames then differ only by their source and camera)."""
    b, z, f, h, w = shape
    return torch.randn((b, z, 1, h, w), generator=generator).expand(b, z, f, h, w).contiguous()
