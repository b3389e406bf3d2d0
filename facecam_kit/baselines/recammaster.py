"""ReCamMaster's camera conditioning on the Wan DiT, for comparisons with FaceCam.

Every transformer block gets a ``cam_encoder`` (Linear 12 -> hidden size, zero-initialised),
whose output is added to the self-attention input (the modulated, normalised tokens), and a
``projector`` (Linear hidden -> hidden, identity-initialised) applied to the self-attention
output before its gate (docs/official_behaviour.md, section 5). Fresh, the model therefore computes exactly
what its Wan base computes. The camera is the relative 3x4 extrinsics per latent frame
(:func:`facecam_kit.geometry.trajectory.recammaster_embedding`), repeated over the source half of the
frame-concatenated sequence and broadcast over each frame's tokens, at any resolution (the
official code hard-codes a 30 x 52 token grid, i.e. 480 x 832).

Taught in notebook 07 (camera representations) and measured in notebook 06's step benchmark.
"""

from __future__ import annotations

import inspect

import torch
from diffusers import WanTransformer3DModel
from torch import nn


class ReCamMasterTransformer(WanTransformer3DModel):
    """``WanTransformer3DModel`` + per-block camera encoder and projector.

    ``forward(hidden_states, timestep, encoder_hidden_states, camera=...)`` with camera (B, F', 12),
    F' the latent frames of the *target* half (half of the frames in ``hidden_states``).
    """

    #: values per latent frame that the camera encoder reads: ReCamMaster's 3x4 relative pose
    camera_dim = 12
    camera_description = "one relative 3x4 pose"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        dim = self.config.num_attention_heads * self.config.attention_head_dim
        for block in self.blocks:
            block.cam_encoder = nn.Linear(self.camera_dim, dim)
            block.projector = nn.Linear(dim, dim)
            nn.init.zeros_(block.cam_encoder.weight)
            nn.init.zeros_(block.cam_encoder.bias)
            nn.init.eye_(block.projector.weight)
            nn.init.zeros_(block.projector.bias)
            block.attn1.register_forward_pre_hook(self._add_camera(block))
            block.attn1.register_forward_hook(lambda module, args, output, block=block: block.projector(output))
        self._camera_tokens = None

    def _add_camera(self, block):
        def hook(module, args):
            if self._camera_tokens is None:
                return None
            x = args[0]
            return (x + block.cam_encoder(self._camera_tokens.to(x.dtype)),) + tuple(args[1:])

        return hook

    # diffusers builds a model from its config (from_config, from_pretrained) by the __init__
    # signature's names: give this one the base class's, or a saved tiny model reloads at 14B
    __init__.__signature__ = inspect.signature(WanTransformer3DModel.__init__)

    def forward(self, hidden_states, timestep, encoder_hidden_states, camera: torch.Tensor | None = None, **kwargs):
        # the tokens stay set after the forward: gradient checkpointing re-runs the blocks (and
        # these hooks) during the backward pass, which must see the same camera
        self._camera_tokens = None
        if camera is not None:
            p_t, p_h, p_w = self.config.patch_size
            f, h, w = hidden_states.shape[2] // p_t, hidden_states.shape[3] // p_h, hidden_states.shape[4] // p_w
            if camera.ndim != 3 or camera.shape[-1] != self.camera_dim or 2 * camera.shape[1] != f:
                raise ValueError(
                    f"camera must be (B, {f // 2}, {self.camera_dim}): {self.camera_description} per target "
                    f"latent frame, got {tuple(camera.shape)}"
                )
            # per latent frame -> both halves (target, source) -> every token of that frame
            self._camera_tokens = camera.repeat(1, 2, 1).repeat_interleave(h * w, dim=1)
        return super().forward(hidden_states, timestep, encoder_hidden_states, **kwargs)


class IntrinsicsReCamMasterTransformer(ReCamMasterTransformer):
    """ReCamMaster's camera encoder told the intrinsics too: per latent frame the relative 3x4 pose,
    then the target's and the source's normalised intrinsics (:func:`camera_with_intrinsics`), 20
    values. FaceCam-mini's extrinsic baseline, so that it knows every zoom and pan the landmark and
    Plücker conditions show (notebook 09)."""

    camera_dim = 20
    camera_description = "a relative 3x4 pose and the target's and source's intrinsics"


def camera_with_intrinsics(poses, K, source_K, height: int, width: int):
    """The 20 values per latent frame of :class:`IntrinsicsReCamMasterTransformer`.

    poses: (f, 12) relative poses; K: (f, 3, 3) the target's intrinsics at those frames and
    source_K (3, 3) the source's, for ``height`` x ``width`` frames. Each K gives
    ``(fx / W, fy / H, cx / W, cy / H)``. Returns (f, 20) float64.
    """
    import numpy as np

    def normalised(k):
        k = np.asarray(k, np.float64)
        return np.stack([k[..., 0, 0] / width, k[..., 1, 1] / height, k[..., 0, 2] / width, k[..., 1, 2] / height], -1)

    poses = np.asarray(poses, np.float64)
    target = normalised(K)
    source = np.broadcast_to(normalised(source_K), target.shape)
    if poses.ndim != 2 or poses.shape[1] != 12 or target.shape != (len(poses), 4):
        raise ValueError(f"poses must be (f, 12) and K (f, 3, 3) for the same f, got {poses.shape} and {np.shape(K)}")
    return np.concatenate([poses, target, source], 1)
