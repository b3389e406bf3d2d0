"""The training loop on accelerate: one code path from a CPU test to FSDP2 / DeepSpeed on GPUs.

The objective and the random draws (what a step computes, and from which numbers) are
:mod:`facecam_kit.train.objective`; this module runs them: data, models, the optimiser loop,
checkpoints and resuming. accelerate's ``save_state`` / ``load_state`` restore model, optimiser,
LR scheduler and RNGs.

Checkpoints are saved pipeline folders (``FaceCamPipeline.save_pretrained``) that ``render
--weights`` and ``FaceCamPipeline.from_pretrained`` load, with the resumable state inside::

    output_dir/checkpoint-000300/
      model_index.json  transformer/  transformer_2/  vae/  scheduler/   (the pipeline)
      training_state/   accelerate's state (sharded with FSDP) + trainer_state.json (step, config)
    output_dir/logs/    TensorBoard: loss, lr, grad_norm, samples_per_s, validation frames
    output_dir/loss_history.json   the same numbers per logged step (also in each checkpoint's state)
    output_dir/validation/step_000100.mp4   source | generated, every validate_every steps

Taught in notebook 08 (training: a short seeded run, its loss curve and a validation frame);
notebook 06 (the model and inference) teaches the model it trains.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from facecam_kit.data.dataset import resolve_options
from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler
from facecam_kit.model.weights import check_saved_model, safe_torch_load
from facecam_kit.outputs import check_own_folder, check_writable_folder
from facecam_kit.spec import GUIDANCE_SCALE
from facecam_kit.train.cache import CachedLatents, LazyLatents, build_cache, settings_hash
from facecam_kit.train.config import TrainConfig
from facecam_kit.train.objective import (
    CAMERA_KEYS,
    camera_condition,
    dataset_index,
    flow_matching_loss,
    sample_positions,
    step_expert,
)
from facecam_kit.train.trainable import apply_preset, count_parameters, merged_state_dict
from facecam_kit.userfiles import check_memory, read_json, short

#: expert name -> the pipeline component it is
COMPONENTS = {"high": "transformer", "low": "transformer_2"}
STATE_DIR = "training_state"
#: written into output_dir when a run starts: the folder is a training run of the kit's
RUN_MARKER = "train_run.json"
#: what each logged step keeps in ``loss_history.json`` (and the checkpoint's trainer state)
HISTORY_KEYS = ("loss", "lr", "grad_norm", "samples_per_s")


def collate(cache: CachedLatents, indices, device) -> dict:
    items = [cache[i] for i in indices]
    return {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}


# -- models --------------------------------------------------------------------------------------------
def load_base(cfg: TrainConfig):
    """The pipeline whose VAE encodes the cache and whose transformers train.

    Returns (pipeline, models): models maps a component name to its transformer. With ``dit`` (a
    model of its own size, trained from scratch) or a camera other than landmarks, one
    transformer of that kind (tiny_dit_config + ``dit``; a ReCamMasterTransformer for
    extrinsics) seeded by ``seed``; ``vae`` replaces the pipeline's VAE.
    """
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    from facecam_kit.model.pipeline import (
        condition_channels,
        tiny_dit_config,
        tiny_facecam_pipeline,
        values_per_token,
    )

    if cfg.model == "tiny":
        pipe = tiny_facecam_pipeline(seed=cfg.seed)
    else:
        from facecam_kit.model.weights import load_pipeline

        pipe = load_pipeline(cfg.model)
    if cfg.vae is not None:
        check_saved_model(cfg.vae, "AutoencoderKLWan", "vae")  # headers: a truncated file is one line
        pipe.vae = AutoencoderKLWan.from_pretrained(cfg.vae)
    kind = cfg.camera_kind
    if cfg.dit is None and kind == "landmarks":
        return pipe, {"transformer": pipe.transformer, "transformer_2": pipe.transformer_2}
    z = pipe.vae.config.z_dim
    kwargs = {**tiny_dit_config(z + condition_channels(kind, z)), "out_channels": z, **(cfg.dit or {})}
    if kind == "extrinsics":
        from facecam_kit.baselines import recammaster as rc

        cls = rc.IntrinsicsReCamMasterTransformer if cfg.camera_intrinsics else rc.ReCamMasterTransformer
    else:
        cls = WanTransformer3DModel
    try:  # built on the meta device first: a setting the model refuses, or one too large, costs nothing
        with torch.device("meta"):
            size = sum(p.numel() for p in cls(**kwargs).parameters())
    except Exception as e:  # diffusers and torch raise many kinds on settings that make no model
        raise ValueError(f"dit {short(cfg.dit)} makes no {cls.__name__}: {short(str(e), 160)}") from None
    check_memory(4, size, f"dit {short(cfg.dit)}", "parameters", "; choose a smaller dit")
    torch.manual_seed(cfg.seed)
    model = cls(**kwargs)
    width = model.config.num_attention_heads * model.config.attention_head_dim
    if values_per_token(model.config) > width + 1:
        warnings.warn(
            f"dit: a token holds {values_per_token(model.config)} latent values (patch {tuple(model.config.patch_size)}"
            f" x {z} channels) but the transformer writes them from {width} features: the sampler never removes "
            "the noise outside that span, so its samples keep part of their starting noise (notebook 09, section "
            "11). Use smaller patches, fewer latent channels or a wider model",
            stacklevel=2,
        )
    return pipe, {"transformer": model}


def plain_transformer(model, state_dict: dict, dtype: torch.dtype):
    """A fresh, unwrapped copy of ``model``'s class and config holding ``state_dict`` (a gathered,
    LoRA-free state dict), built on the meta device so that no second copy is allocated."""
    cls = next(c for c in type(model).__mro__ if not c.__name__.startswith("FSDP"))  # FSDP2 subclasses in place
    with torch.device("meta"):
        plain = cls.from_config(model.config)
    plain.load_state_dict({k: v.to(dtype) for k, v in state_dict.items()}, assign=True, strict=True)
    return plain


# -- the trainer ----------------------------------------------------------------------------------------
class Trainer:
    """One training run of a :class:`TrainConfig`: ``Trainer(cfg).train()`` returns the last checkpoint."""

    def __init__(self, cfg: TrainConfig):
        from accelerate import Accelerator
        from accelerate.utils import ProjectConfiguration

        self.cfg = cfg
        # before any heavy work: a folder of our own (never a user's) that we can write in
        self.out = check_own_folder(cfg.output_dir, RUN_MARKER, "output_dir", "training run")
        if cfg.cache_dir:  # a file there failed only once the cache was built
            check_writable_folder(cfg.cache_dir, "cache_dir")
        self.acc = Accelerator(
            mixed_precision=cfg.mixed_precision,
            gradient_accumulation_steps=cfg.grad_accum,
            log_with=None if cfg.tracker == "none" else "tensorboard",
            project_config=ProjectConfiguration(project_dir=str(self.out), logging_dir=str(self.out / "logs")),
            step_scheduler_with_optimizer=False,  # stepped once per optimiser step, whatever the process count
            cpu=not torch.cuda.is_available(),
        )
        self.pipe, components = load_base(cfg)
        self.single_model = components.get("transformer_2") is None
        wanted = ["high", "low"] if cfg.expert == "both" else [cfg.expert]
        if self.single_model:
            if cfg.expert == "low":
                raise ValueError("expert 'low' needs a pipeline with two experts (transformer_2); this one has one")
            wanted = ["high"]
        self.trained = {COMPONENTS[e]: components[COMPONENTS[e]] for e in wanted}
        self.frozen = {k: v for k, v in components.items() if v is not None and k not in self.trained}
        if self.acc.distributed_type.value == "DEEPSPEED" and len(self.trained) > 1:
            raise ValueError(
                "expert 'both' with DeepSpeed: accelerate drives one model per engine; train the experts as two runs"
            )
        self.trainable_names = {}
        for name, model in self.trained.items():
            self.trainable_names[name] = apply_preset(
                model, cfg.preset, cfg.extra_trainable, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets
            )
            if cfg.gradient_checkpointing:
                model.enable_gradient_checkpointing()
            model.train()
        for model in self.frozen.values():
            model.requires_grad_(False)
        marker = self.out / RUN_MARKER
        if self.acc.is_main_process and not marker.exists():  # the folder is the kit's from now on
            self.out.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"job": "train", "first_config": cfg.to_dict()}, indent=1) + "\n")

    # -- data -------------------------------------------------------------------------------------
    def data_settings(self) -> dict:
        c = self.cfg
        return {
            "data_kind": c.data_kind,
            "data_root": str(Path(c.data_root).resolve()),
            "make_studio": c.make_studio,
            "num_frames": c.num_frames,
            "samples_per_item": c.samples_per_item,
            "augment": c.augment,
            "data_seed": c.data_seed,
            "scene_scale_range": list(c.scene_scale_range),
            "data_options": resolve_options(c.data_kind, c.data_options, c.camera_kind, c.augment, c.camera_intrinsics),
            "vae": None if c.vae is None else str(Path(c.vae).resolve()),
            "model": c.model if c.model == "tiny" else str(Path(c.model).resolve()),
            # the tiny model's random VAE encodes the cache; a given vae makes the seed irrelevant to it
            "seed": c.seed if c.model == "tiny" and c.vae is None else None,
            "prompt": c.prompt,
        }

    def dataset(self):
        """The run's dataset of training triplets (notebook 04), as configured."""
        from facecam_kit.data.dataset import MonocularDataset, StudioDataset

        c = self.cfg
        rules = resolve_options(c.data_kind, c.data_options, c.camera_kind, c.augment, c.camera_intrinsics)
        if c.data_kind == "studio":
            scales = tuple(c.scene_scale_range)
            return StudioDataset(
                c.data_root,
                c.num_frames,
                c.samples_per_item,
                c.augment,
                seed=c.data_seed,
                scene_scale_range=scales,
                **rules,
            )
        return MonocularDataset(c.data_root, c.num_frames, c.samples_per_item, seed=c.data_seed, **rules)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Normalised VAE latents (posterior mode) of a (1, 3, F, H, W) video in [-1, 1]."""
        vae = self.pipe.vae.to(self.acc.device)
        return self.pipe._normalise(vae.encode(video.to(self.acc.device, vae.dtype)).latent_dist.mode())

    def prepare_data(self) -> CachedLatents | LazyLatents:
        """Make the studio if asked and missing, cache its latents (main process first), open the
        cache; with ``latent_cache: false`` encode each sample when it is drawn instead."""
        c, settings = self.cfg, self.data_settings()
        root = Path(c.data_root)
        cache_dir = Path(c.cache_dir) if c.cache_dir else root.parent / f"{root.name}-latents-{settings_hash(settings)}"
        with self.acc.main_process_first():
            if c.make_studio is not None and not any(root.glob("*/capture.json")):
                from facecam_kit.data.studio import make_studio

                make_studio(root, **c.make_studio, progress=c.progress)
            if c.latent_cache and (not (cache_dir / "index.json").is_file() or self.acc.is_main_process):
                text, empty = self.text_embeddings()
                build_cache(
                    self.dataset(), self.encode, cache_dir, text, empty, settings, c.cache_shard_size, c.progress
                )
        cache = (
            CachedLatents(cache_dir)
            if c.latent_cache
            else LazyLatents(self.dataset(), self.encode, *self.text_embeddings())
        )
        if c.masked_loss and "mask" not in cache.keys:
            raise ValueError(
                f"masked_loss needs a valid mask per sample (ReCapture's anchor mask), but the {c.data_kind} "
                f"dataset's items have no 'mask' (cache {cache_dir}); turn masked_loss off or use a dataset with masks"
            )
        if CAMERA_KEYS[c.camera_kind] not in cache.keys:
            raise ValueError(
                f"camera {c.camera_kind} needs source and target cameras per sample; the {c.data_kind} dataset has none"
            )
        needs = {"intrinsics": c.camera_intrinsics, "scene_scale": c.camera_units == "head"}
        if lacking := [k for k, wanted in needs.items() if wanted and k not in cache.keys]:
            raise ValueError(
                f"camera_intrinsics / camera_units: head need each sample's {' and '.join(lacking)}, which the "
                f"latent cache {cache_dir} lacks (written by an earlier kit, or a dataset without them); "
                "delete it to have it rebuilt"
            )
        return cache

    def text_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, D) embeddings of the prompt and of the empty prompt. Without a text encoder (the tiny
        model), zeros for both, as ``render`` feeds such a pipeline: text dropout then changes nothing."""
        if self.pipe.text_encoder is None:
            dim = next(iter(self.trained.values())).config.text_dim
            return torch.zeros(16, dim), torch.zeros(16, dim)
        self.pipe.text_encoder.to(self.acc.device)
        with torch.no_grad():
            emb = self.pipe.encode_prompt([self.cfg.prompt, ""]).float().cpu()
        self.pipe.text_encoder.to("cpu")
        return emb[0], emb[1]

    # -- the loop -----------------------------------------------------------------------------------
    def setup(self):
        from diffusers.optimization import get_scheduler

        c = self.cfg
        self.cache = self.prepare_data()
        if c.loop_threads is not None:
            torch.set_num_threads(c.loop_threads)
        self.text, self.empty = self.cache.text()
        params = [p for m in self.trained.values() for p in m.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=c.lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
        names = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}
        scheduler = get_scheduler(
            names[c.lr_scheduler], optimizer, num_warmup_steps=c.lr_warmup_steps, num_training_steps=c.max_steps
        )
        models = self.acc.prepare(*self.trained.values(), optimizer, scheduler)
        *wrapped, self.optimizer, self.scheduler = models
        self.models = dict(zip(self.trained, wrapped))
        if c.validate_every:
            for m in self.frozen.values():
                m.to(self.acc.device)
        self.step, self.history = 0, []
        if c.resume:
            self.resume(c.resume)
        if c.tracker != "none":
            flat = {
                k: (json.dumps(v) if isinstance(v, list | dict) or v is None else v) for k, v in c.to_dict().items()
            }
            self.acc.init_trackers("facecam_train", config=flat)

    def resume(self, which: str):
        ckpt = self.latest_checkpoint() if which == "latest" else Path(which)
        if ckpt is None:
            self.acc.print(f"resume: no checkpoint in {self.out}, starting from step 0")
            return
        state = ckpt / STATE_DIR / "trainer_state.json"
        if not state.is_file():
            raise FileNotFoundError(f"{ckpt} is not a training checkpoint: {state} is missing")
        saved = read_json(state, "trainer state")
        if not (isinstance(saved, dict) and isinstance(saved.get("step"), int) and saved["step"] >= 0):
            raise ValueError(f"trainer state {state} holds no step; the checkpoint is damaged: resume from another")
        rng = ckpt / STATE_DIR / f"random_states_{self.acc.process_index}.pkl"
        try:  # accelerate skips an unreadable RNG state with no more than a log line
            states = safe_torch_load(rng)  # a crafted state runs no code
            if not {"random_state", "torch_manual_seed"} <= set(states):
                raise KeyError("random_state")
            self.acc.load_state(str(ckpt / STATE_DIR))
        except ValueError as e:  # safe_torch_load's refusal of code: said whole
            raise ValueError(f"checkpoint {ckpt} cannot be resumed: {e}") from None
        except Exception as e:  # torch, pickle, safetensors: a truncated or damaged checkpoint
            why = short(str(e).splitlines()[0] if str(e) else type(e).__name__, 120)
            raise ValueError(f"checkpoint {ckpt} cannot be resumed ({why}); resume from another checkpoint") from None
        self.step, self.history = saved["step"], saved.get("history", [])
        self.acc.print(f"resumed from {ckpt} at step {self.step}")

    def latest_checkpoint(self) -> Path | None:
        done = sorted(p for p in self.out.glob("checkpoint-*") if (p / STATE_DIR / "trainer_state.json").is_file())
        return done[-1] if done else None

    def train(self, until: int | None = None) -> Path:
        """Train to ``max_steps`` (or stop after step ``until``, as an interruption would, with a
        checkpoint there); returns the last checkpoint."""
        from tqdm.auto import tqdm

        c, acc = self.cfg, self.acc
        stop = c.max_steps if until is None else min(until, c.max_steps)
        self.setup()
        trainable, total = (sum(x) for x in zip(*(count_parameters(m) for m in self.trained.values())))
        acc.print(
            f"training {', '.join(self.trained)} ({c.preset}: {trainable:,} of {total:,} parameters) for "
            f"{c.max_steps} steps, global batch {c.batch_size * acc.num_processes * c.grad_accum} "
            f"on {acc.num_processes} process(es), {len(self.cache)} cached samples"
        )
        bar = tqdm(
            total=c.max_steps, initial=self.step, desc="training", disable=not (c.progress and acc.is_main_process)
        )
        window, t0, last = [], time.perf_counter(), None
        while self.step < stop:
            expert = step_expert(c, self.step, self.single_model)
            name = COMPONENTS["high" if expert == "all" else expert]
            model = self.models[name]
            for micro in range(c.grad_accum):
                positions = sample_positions(
                    self.step, micro, acc.process_index, c.batch_size, acc.num_processes, c.grad_accum
                )
                indices = [dataset_index(p, len(self.cache), c.seed) for p in positions]
                batch = collate(self.cache, indices, acc.device)
                with acc.accumulate(*self.models.values()), acc.autocast():
                    loss, stats = flow_matching_loss(model, batch, self.text, self.empty, c, expert, positions)
                    if not torch.isfinite(loss.detach()).item():
                        raise ValueError(
                            f"the loss is {loss.item()} at step {self.step + 1}: training diverged (lr {c.lr:g}; "
                            f"try a lower lr, mixed_precision: no, or max_grad_norm); last checkpoint: {last}"
                        )
                    acc.backward(loss)
                    if acc.sync_gradients:  # an infinite norm measures the gradient and clips nothing
                        clip = math.inf if c.max_grad_norm is None else c.max_grad_norm
                        grad_norm = acc.clip_grad_norm_(model.parameters(), clip)
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                window.append(loss.detach())
            self.scheduler.step()
            self.step += 1
            bar.update()
            if self.step % c.log_every == 0 or self.step == stop:
                mean_loss = acc.reduce(torch.stack(window).mean(), "mean").item()
                elapsed = time.perf_counter() - t0
                samples = len(window) * c.batch_size * acc.num_processes
                logs = {
                    "loss": mean_loss,
                    "lr": self.scheduler.get_last_lr()[0],
                    "grad_norm": float(grad_norm),
                    "samples_per_s": samples / elapsed,
                    f"loss_{expert}": mean_loss,
                }
                acc.log(logs, step=self.step)
                self.history.append({"step": self.step, "expert": expert, **{k: logs[k] for k in HISTORY_KEYS}})
                bar.set_postfix(loss=f"{mean_loss:.4g}", lr=f"{logs['lr']:.2g}")
                window, t0 = [], time.perf_counter()
            if c.validate_every and self.step % c.validate_every == 0:
                self.validate()
            if self.step % c.checkpoint_every == 0 or self.step == stop:
                last = self.save_checkpoint()
        bar.close()
        acc.wait_for_everyone()
        acc.end_training()
        return last if last is not None else self.latest_checkpoint()

    # -- checkpoints and validation ----------------------------------------------------------------
    def pipeline_for_saving(self) -> FaceCamPipeline | dict | None:
        """Gather the trained transformers (every process calls this) and, on the main process, a
        FaceCamPipeline holding them (LoRA merged), or for extrinsics a dict of plain models."""
        dtype = getattr(torch, self.cfg.save_dtype)
        plain = {}
        for name, model in self.models.items():
            state = self.acc.get_state_dict(model)
            if self.acc.is_main_process:
                if self.cfg.preset == "lora":
                    state = merged_state_dict(state, self.cfg.lora_alpha, self.cfg.lora_rank)
                plain[name] = plain_transformer(self.trained[name], state, dtype)
        if not self.acc.is_main_process:
            return None
        if self.cfg.camera_kind == "extrinsics":  # a ReCamMasterTransformer: saved on its own
            return plain
        parts = {**self.frozen, **plain}  # a frozen expert is saved as loaded
        p = self.pipe
        return FaceCamPipeline(
            parts["transformer"],
            p.vae,
            make_scheduler(),
            parts.get("transformer_2"),
            p.text_encoder,
            p.tokenizer,
            boundary_ratio=p.config.boundary_ratio,
            random_weights=False,  # trained: render must not label its output RANDOM WEIGHTS
            camera_kind=self.cfg.camera_kind,
        )

    def save_checkpoint(self) -> Path:
        """Write ``checkpoint-<step>/`` (pipeline + resumable state), complete or not at all."""
        import shutil

        import yaml

        final = self.out / f"checkpoint-{self.step:06d}"
        tmp = self.out / f".checkpoint-{self.step:06d}.partial"
        if self.acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        self.acc.wait_for_everyone()
        saved = self.pipeline_for_saving()
        self.acc.save_state(str(tmp / STATE_DIR))
        if self.acc.is_main_process:
            if isinstance(saved, dict):
                for name, model in saved.items():
                    model.save_pretrained(tmp / name)
            else:
                saved.save_pretrained(tmp)
            state = {
                "step": self.step,
                "samples_seen": self.step * self.global_batch,
                "config": self.cfg.to_dict(),
                "history": self.history,
            }
            (tmp / STATE_DIR / "trainer_state.json").write_text(json.dumps(state, indent=1) + "\n")
            (self.out / "loss_history.json").write_text(json.dumps(self.history) + "\n")
            (tmp / "train_config.yaml").write_text(yaml.safe_dump(self.cfg.to_dict(), sort_keys=False))
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        self.acc.wait_for_everyone()
        return final

    @property
    def global_batch(self) -> int:
        return self.cfg.batch_size * self.acc.num_processes * self.cfg.grad_accum

    def validate(self):
        """A validation video (source | generated) of the first cached sample, with the current weights."""
        from facecam_kit.video import write_video

        acc, c = self.acc, self.cfg
        sharded = acc.distributed_type.value in ("FSDP", "DEEPSPEED")
        if not (sharded or acc.is_main_process):
            acc.wait_for_everyone()
            return
        parts = {**self.frozen, **{k: acc.unwrap_model(m) for k, m in self.models.items()}}
        self.pipe.vae.to(acc.device)
        pipe = FaceCamPipeline(
            parts["transformer"],
            self.pipe.vae,
            make_scheduler(),
            parts.get("transformer_2"),
            random_weights=False,
            camera_kind=c.camera_kind,
        )
        pipe.set_progress_bar_config(disable=True)
        pix = self.cache.validation_pixels()
        source, cond = (pix[k].permute(0, 2, 3, 1).numpy() for k in ("source", "condition"))
        if c.camera_kind != "landmarks":  # the first sample's cached camera condition
            cond = camera_condition(c, collate(self.cache, [0], "cpu"))
        with torch.no_grad(), acc.autocast():
            frames = pipe(
                source,
                cond,
                prompt_embeds=self.text[None],
                negative_prompt_embeds=self.empty[None],
                num_inference_steps=c.validation_steps,
                guidance_scale=GUIDANCE_SCALE,
                generator=torch.Generator().manual_seed(c.seed),
            ).frames[0]
        if acc.is_main_process:
            video = np.concatenate([source, (frames * 255 + 0.5).astype(np.uint8)], 2)
            path = self.out / "validation" / f"step_{self.step:06d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, video)
            if c.tracker != "none":
                strip = np.concatenate(list(video[:: max(1, len(video) // 4)]), 0)  # a few frames, stacked
                acc.get_tracker("tensorboard").writer.add_image("validation", strip, self.step, dataformats="HWC")
        acc.wait_for_everyone()


def train(cfg: TrainConfig) -> Path:
    """Run a training configuration; returns the last checkpoint folder (a saved pipeline).

    A run that fails or is stopped before its first checkpoint leaves ``output_dir`` as it was: a
    folder it created (or found empty) is emptied of what it wrote (the run record, logs), so a
    refused run never leaves a half-made run behind. Kept checkpoints are said on the exception."""
    import shutil

    out = Path(cfg.output_dir)
    existed = out.exists()
    fresh = not existed or (out.is_dir() and not any(out.iterdir()))
    try:
        return Trainer(cfg).train()
    except BaseException as e:
        kept = sorted(out.glob("checkpoint-*[0-9]")) if out.is_dir() else []
        if kept:
            e.add_note(f"kept {len(kept)} checkpoint(s) in {out}, the last {kept[-1].name}; resume=latest continues")
        elif fresh and not existed:
            shutil.rmtree(out, ignore_errors=True)
        elif fresh:  # an empty folder given: only this run wrote in it
            for p in out.iterdir():
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
        raise
