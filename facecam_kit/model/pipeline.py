"""FaceCam on diffusers: a Wan2.2-I2V video DiT conditioned on a source video and a landmark video.

Behaviour follows the official FaceCam inference (docs/official_behaviour.md, section 1):

* the source video and the camera-condition video are VAE-encoded (mode of the posterior) and
  normalised ``(z - mean) / std``;
* the model input, per step, is 36 channels over 2f latent frames:
  ``[noisy target | clean source]`` along frames (16 channels), then on channels the conditioning
  ``y = [camera latents (16) | zeros (4)]``, repeated over both halves;
* one scalar timestep (cast to bf16 first, as the official code does) for all tokens; classifier-
  free guidance ``neg + s (pos - neg)`` from two passes that differ only in the text;
* only the target half is stepped (Euler, flow matching, shift 5, sigmas ``linspace(1, 0, N+1)[:-1]``)
  and decoded;
* two experts: ``transformer`` (high noise) while ``t >= boundary * 1000``, then ``transformer_2``
  (low noise); the official inference uses boundary 0.9.

Taught in notebook 06 (the model and inference).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
from diffusers.utils import BaseOutput

from facecam_kit.spec import (
    BOUNDARY,
    CAMERA_KINDS,
    DEFAULT_PROMPT,
    GUIDANCE_SCALE,
    NUM_STEPS,
    SHIFT,
    TEMPORAL_COMPRESSION,
    check_frame_size,
    check_num_frames,
    vae_compression,
)


@dataclass
class FaceCamPipelineOutput(BaseOutput):
    """frames: the generated target video, (B, F, H, W, 3) float in [0, 1] for ``output_type="np"``
    (a tensor (B, F, 3, H, W) for "pt", latents for "latent"); random_weights: True when the
    pipeline was built with random weights (its output is noise-like and must be labelled so)."""

    frames: np.ndarray | torch.Tensor
    random_weights: bool = False


def official_sigmas(num_inference_steps: int) -> np.ndarray:
    """The official schedule's unshifted sigmas: ``linspace(1, 0, N + 1)[:-1]`` (the last step goes to 0)."""
    return np.linspace(1.0, 0.0, num_inference_steps + 1)[:-1]


def make_scheduler() -> FlowMatchEulerDiscreteScheduler:
    """Flow-matching Euler with shift 5, as DiffSynth's ``FlowMatchScheduler("Wan")``."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=SHIFT)


#: Channels of a Plücker ray map (moment o x d, direction d). The camera kinds (spec.CAMERA_KINDS):
#: FaceCam's landmark video (VAE latents on channels), FactorPortrait's Plücker ray maps (on
#: channels, at latent resolution), ReCamMaster's extrinsics (through the transformer's per-block
#: camera encoder, :mod:`facecam_kit.baselines.recammaster`).
PLUCKER_CHANNELS = 6


def condition_channels(camera_kind: str, z_dim: int = 16) -> int:
    """Channels the camera condition adds to the DiT input: 20 (landmark latents + 4 zeros), 6, or 0."""
    channels = {"landmarks": z_dim + 4, "plucker": PLUCKER_CHANNELS, "extrinsics": 0}
    if camera_kind not in channels:
        raise ValueError(f"camera_kind must be one of {', '.join(CAMERA_KINDS)}, got {camera_kind!r}")
    return channels[camera_kind]


def camera_inputs(camera_kind: str, camera: torch.Tensor) -> tuple[torch.Tensor | None, dict]:
    """The DiT's camera inputs: ``y`` for :func:`dit_input` (or None) and extra forward arguments.

    camera: landmarks (B, 16, f, h, w) normalised latents of the condition video; plucker
    (B, 6, f, h, w) ray maps of the target cameras at latent resolution; extrinsics (B, f, 12)
    relative poses. Channel conditions are repeated over both halves of the sequence (the source
    half carries the target camera too, as the official FaceCam code does).
    """
    if camera_kind == "landmarks":
        return camera_conditioning(camera), {}
    if camera_kind == "plucker":
        return camera.repeat(1, 1, 2, 1, 1), {}
    if camera_kind == "extrinsics":
        return None, {"camera": camera}
    raise ValueError(f"camera_kind must be one of {', '.join(CAMERA_KINDS)}, got {camera_kind!r}")


def camera_conditioning(camera: torch.Tensor) -> torch.Tensor:
    """FaceCam's ``y``: camera latents and 4 zero channels, repeated over both halves of the sequence.

    camera: (B, 16, f, h, w) normalised latents of the landmark condition video.
    Returns (B, 20, 2f, h, w): the source half carries the target camera too (as the official code).
    """
    return torch.cat([camera, torch.zeros_like(camera[:, :4])], 1).repeat(1, 1, 2, 1, 1)


def dit_input(target: torch.Tensor, source: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """The DiT input: ``[target | source]`` along frames, then ``y`` on channels (36 for FaceCam).

    target: (B, 16, f, h, w) noisy target latents; source: (B, 16, f, h, w) clean source latents;
    y: (B, C, 2f, h, w) from :func:`camera_inputs` (C = 20 for FaceCam's landmarks), or None.
    Returns (B, 16 + C, 2f, h, w). The one place of the layout: inference
    (:class:`FaceCamPipeline`) and training build it here.
    """
    x = torch.cat([target, source], 2)
    return x if y is None else torch.cat([x, y], 1)


def video_tensor(video, name: str) -> torch.Tensor:
    """(F, H, W, 3) uint8 array, or a (B, 3, F, H, W) tensor in [-1, 1] -> (B, 3, F, H, W) float."""
    if isinstance(video, torch.Tensor) and video.ndim == 5:
        return video.float()
    v = np.asarray(video)
    if v.ndim != 4 or v.shape[-1] != 3 or v.dtype != np.uint8:
        raise ValueError(
            f"{name} must be (F, H, W, 3) uint8 frames or a (B, 3, F, H, W) tensor in [-1, 1], "
            f"got {type(video).__name__} {getattr(v, 'shape', None)} {getattr(v, 'dtype', None)}"
        )
    return torch.from_numpy(v).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0


def normalise_latents(vae: AutoencoderKLWan, z: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Wan's latent normalisation ``(z - mean) / std`` per channel (``inverse``: back), z (B, C, f, h, w)."""
    mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, -1, 1, 1, 1)
    return z * std + mean if inverse else (z - mean) / std


class FaceCamPipeline(DiffusionPipeline):
    """Camera-controlled re-rendering of a portrait video (FaceCam).

    Components: ``transformer`` (the high-noise expert, or the only one), optional ``transformer_2``
    (low-noise expert), ``vae`` (Wan2.1 VAE), ``scheduler``, and optional ``text_encoder`` /
    ``tokenizer`` (UMT5); without them pass ``prompt_embeds``. ``camera_kind`` is FaceCam's
    ``landmarks``, or for FaceCam-mini's baselines (notebook 09) ``plucker`` or ``extrinsics``.
    """

    model_cpu_offload_seq = "text_encoder->transformer->transformer_2->vae"
    _optional_components = ["transformer_2", "text_encoder", "tokenizer"]
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        transformer: WanTransformer3DModel,
        vae: AutoencoderKLWan,
        scheduler: FlowMatchEulerDiscreteScheduler,
        transformer_2: WanTransformer3DModel | None = None,
        text_encoder=None,
        tokenizer=None,
        boundary_ratio: float = BOUNDARY,
        random_weights: bool = False,
        camera_kind: str = "landmarks",
    ):
        super().__init__()
        self.register_modules(
            transformer=transformer,
            transformer_2=transformer_2,
            vae=vae,
            scheduler=scheduler,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
        )
        self.register_to_config(boundary_ratio=boundary_ratio, random_weights=random_weights, camera_kind=camera_kind)
        expected = vae.config.z_dim + condition_channels(camera_kind, vae.config.z_dim)
        if transformer.config.in_channels != expected:
            raise ValueError(
                f"a {camera_kind} transformer takes {expected} input channels "
                f"(latent{' | camera' if expected > vae.config.z_dim else ''}), got {transformer.config.in_channels}"
            )
        if transformer.config.out_channels != vae.config.z_dim:
            raise ValueError(
                f"the transformer predicts {transformer.config.out_channels} channels, but the VAE's latents have "
                f"{vae.config.z_dim}: build it with out_channels={vae.config.z_dim}"
            )

    # -- helpers ---------------------------------------------------------------------------
    def _normalise(self, z: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        return normalise_latents(self.vae, z, inverse)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """VAE latents of a (B, 3, F, H, W) video in [-1, 1], deterministic (posterior mode), normalised."""
        video = video.to(self._execution_device, self.vae.dtype)
        return self._normalise(self.vae.encode(video).latent_dist.mode())

    def encode_prompt(self, prompt: str | list[str], max_sequence_length: int = 512) -> torch.Tensor:
        """UMT5 embeddings, zeroed past each prompt's length and padded to 512 tokens (as the official)."""
        if self.text_encoder is None or self.tokenizer is None:
            raise ValueError(
                "this pipeline has no text encoder: pass prompt_embeds / negative_prompt_embeds "
                "(precomputed UMT5 embeddings), or load a pipeline with text_encoder and tokenizer"
            )
        prompt = [prompt] if isinstance(prompt, str) else prompt
        tok = self.tokenizer(
            prompt,
            padding="max_length",
            max_length=max_sequence_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = tok.attention_mask.to(self._execution_device)
        emb = self.text_encoder(tok.input_ids.to(self._execution_device), mask).last_hidden_state
        return emb * mask[..., None].to(emb.dtype)

    def expert(self, t: torch.Tensor) -> WanTransformer3DModel:
        """The transformer for timestep t: high-noise ``transformer`` while ``t >= boundary * 1000``."""
        if self.transformer_2 is None or t >= self.config.boundary_ratio * self.scheduler.config.num_train_timesteps:
            return self.transformer
        return self.transformer_2

    @torch.no_grad()
    def __call__(
        self,
        video,
        camera_condition,
        prompt: str | None = DEFAULT_PROMPT,
        negative_prompt: str = "",
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        num_inference_steps: int = NUM_STEPS,
        guidance_scale: float = GUIDANCE_SCALE,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
    ):
        """Generate the target video.

        video: the source video, (F, H, W, 3) uint8 or (B, 3, F, H, W) in [-1, 1] (F = 4k+1; H, W
        multiples of 16); camera_condition: for ``camera_kind`` landmarks the landmark condition
        video, same shape; plucker (B, 6, f, H/8, W/8) ray maps, extrinsics (B, f, 12) poses (20
        values with IntrinsicsReCamMasterTransformer), one per latent frame (f = (F - 1) / 4 + 1),
        arrays or tensors. Returns a :class:`FaceCamPipelineOutput` (or a tuple when ``return_dict=False``).
        """
        kind = self.config.camera_kind
        src = video_tensor(video, "video")
        f, h, w = src.shape[2:]
        check_num_frames(f, "the video's frame count")
        check_frame_size(h, w)
        per_latent, s = vae_compression(self.vae.config.temperal_downsample)  # Wan's VAE: 4 frames, 8 px
        lf = (f - 1) // per_latent + 1
        # source and target latents side by side in time: each axis must fit the transformer's RoPE table
        p_t, p_h, p_w = self.transformer.config.patch_size
        rope = self.transformer.config.rope_max_seq_len
        if max(2 * lf // p_t, h // s // p_h, w // s // p_w) > rope:
            longest = ((rope * p_t // 2) - 1) * per_latent + 1
            longest -= (longest - 1) % TEMPORAL_COMPRESSION  # the frame counts Wan takes: 4k+1
            raise ValueError(
                f"a {f}-frame {h}x{w} video is longer than this transformer's position table covers "
                f"(rope_max_seq_len {rope}, source and target side by side): at most {longest} frames "
                f"and {rope * p_h * s} px a side"
            )
        if kind == "landmarks":
            cam = video_tensor(camera_condition, "camera_condition")
            if src.shape != cam.shape:
                raise ValueError(
                    f"video {tuple(src.shape)} and camera_condition {tuple(cam.shape)} must have the same shape"
                )
        else:
            cam = torch.as_tensor(camera_condition)
            if kind == "plucker":  # at latent resolution
                want = (src.shape[0], PLUCKER_CHANNELS, lf, h // s, w // s)
            else:  # ReCamMaster's 12 values per latent frame, or more for a variant told more
                want = (src.shape[0], lf, getattr(self.transformer, "camera_dim", 12))
            if tuple(cam.shape) != want:
                raise ValueError(f"camera_condition for camera_kind {kind!r} must be {want}, got {tuple(cam.shape)}")
        bad = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise ValueError(f"callback_on_step_end_tensor_inputs must be in {self._callback_tensor_inputs}, got {bad}")
        device, dtype = self._execution_device, self.transformer.dtype

        if prompt_embeds is None:
            prompt_embeds = self.encode_prompt(prompt)
        do_cfg = guidance_scale != 1.0
        if do_cfg and negative_prompt_embeds is None:
            negative_prompt_embeds = self.encode_prompt(negative_prompt)
        prompt_embeds = prompt_embeds.to(device, dtype)
        negative_prompt_embeds = negative_prompt_embeds.to(device, dtype) if do_cfg else None

        source = self.encode_video(src).to(dtype)
        camera = self.encode_video(cam) if kind == "landmarks" else cam.to(device)
        b, lf = source.shape[0], source.shape[2]  # batch, latent frames
        y, camera_kwargs = camera_inputs(kind, camera.to(dtype))
        if latents is None:  # drawn in fp32 on the CPU, then cast (as the official)
            latents = torch.randn(source.shape, generator=generator, dtype=torch.float32)
        latents = latents.to(device, torch.float32)

        self.scheduler.set_timesteps(sigmas=official_sigmas(num_inference_steps), device=device)
        timesteps = self.scheduler.timesteps
        with self.progress_bar(total=len(timesteps)) as bar:
            for i, t in enumerate(timesteps):
                model = self.expert(t)
                x = dit_input(latents.to(dtype), source, y)
                t_in = t.to(torch.bfloat16).to(dtype).expand(b)  # the official casts the timestep to bf16
                pred = model(x, t_in, prompt_embeds, return_dict=False, **camera_kwargs)[0][:, :, :lf]  # target half
                if do_cfg:
                    neg = model(x, t_in, negative_prompt_embeds, return_dict=False, **camera_kwargs)[0][:, :, :lf]
                    pred = neg + guidance_scale * (pred - neg)
                latents = self.scheduler.step(pred.float(), t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    out = callback_on_step_end(self, i, t, {"latents": latents})
                    latents = out.get("latents", latents)
                bar.update()

        if output_type == "latent":
            frames = latents
        else:
            decoded = self.vae.decode(self._normalise(latents.to(self.vae.dtype), inverse=True), return_dict=False)[0]
            frames = ((decoded.float().clamp(-1, 1) + 1) / 2).permute(0, 2, 1, 3, 4)  # (B, F, 3, H, W)
            if output_type == "np":
                frames = frames.permute(0, 1, 3, 4, 2).cpu().numpy()
            elif output_type != "pt":
                raise ValueError(f"output_type must be 'np', 'pt' or 'latent', got {output_type!r}")
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return FaceCamPipelineOutput(frames=frames, random_weights=bool(self.config.random_weights))


def tiny_dit_config(in_channels: int = 36, text_dim: int = 32) -> dict:
    """``WanTransformer3DModel`` kwargs of the kit's tiny DiT: 2 layers of 2 heads x 12, 2x2 patches.

    The one tiny configuration of the kit (tests, FAST notebooks, ``bench_step.py --config tiny``):
    ``in_channels`` 36 for FaceCam (latent | camera | 4 zeros), 16 for a text-to-video base such
    as ReCamMaster's.
    """
    return dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=16,
        text_dim=text_dim,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        rope_max_seq_len=32,
    )


def values_per_token(config) -> int:
    """Latent values one token of a Wan transformer predicts (``config``: its ``patch_size`` and
    ``out_channels``). Its last layer writes them from ``inner_dim`` features, so when they are
    more than ``inner_dim + 1`` the sampler cannot reach them all (``docs/mini_probes.md``: why the
    first FaceCam-mini DiTs rendered no face)."""
    return int(np.prod(config.patch_size)) * config.out_channels


def tiny_facecam_pipeline(seed: int = 0, two_experts: bool = True, text_dim: int = 32) -> FaceCamPipeline:
    """A tiny FaceCam pipeline with random weights, built in code (tests, FAST notebooks, CPU).

    Same architecture family as Wan2.2-I2V (36 input channels, two experts), :func:`tiny_dit_config`.
    Its outputs are marked ``random_weights=True``. Prompt embeddings: (B, L, ``text_dim``).
    """
    torch.manual_seed(seed)

    def dit():
        return WanTransformer3DModel(**tiny_dit_config(36, text_dim))

    vae = AutoencoderKLWan(
        base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    return FaceCamPipeline(dit(), vae, make_scheduler(), dit() if two_experts else None, random_weights=True)
