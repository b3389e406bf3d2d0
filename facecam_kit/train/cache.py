"""Latent caching, as the official engines do: encode every training triplet once, train from disk.

:func:`build_cache` runs the VAE over each dataset item (source, target and condition videos),
adds the prompt's and the empty prompt's text embeddings once, and writes sharded safetensors::

    cache_dir/
      index.json            format, number of samples, shards, latent shape, the dataset's
                            settings and each sample's augmentation seed ([data_seed, index]:
                            StudioDataset draws every augmentation from it), the encoder
      prompt.safetensors    "prompt" (L, D) and "empty" (L, D) text embeddings
      shard_00000.safetensors  "<i>.source" / "<i>.target" / "<i>.condition" (16, f, h, w) latents,
                            "<i>.mask" (1, f, h, w) when the dataset gives a valid mask,
                            "<i>.camera" (f, 12) ReCamMaster poses and "<i>.plucker" (6, f, h, w)
                            Plücker maps, relative to the source camera, when it gives cameras,
                            with "<i>.intrinsics" (f, 8) the target's and source's normalised
                            intrinsics and "<i>.scene_scale" (1,) the sample's scene scale
      validation.safetensors the first sample's pixels (source, condition), for validation videos

The cache is written into a temporary folder and renamed when complete (nothing half-written);
a cache whose recorded settings differ from the requested ones is refused, not reused.
:class:`CachedLatents` reads it back, one shard in memory at a time.

Taught in notebook 08 (training: one sample into latents); notebook 04 (the training dataset) makes
the triplets cached here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from facecam_kit.spec import TEMPORAL_COMPRESSION

FORMAT = "facecam-kit latent cache v1"
LATENT_SCALE = 8  # Wan's VAE downsamples space by 8


def settings_hash(settings: dict) -> str:
    """A short hash of the settings a cache depends on (its folder name by default)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def latent_mask(
    mask: torch.Tensor, latent_scale: int = LATENT_SCALE, frames_per_latent: int = TEMPORAL_COMPRESSION
) -> torch.Tensor:
    """A pixel valid mask (F, H, W) at latent resolution: (1, f, h, w) float in [0, 1].

    Time as Wan's causal VAE groups frames (frame 0 alone, then groups of ``frames_per_latent``,
    Wan's 4), space by ``latent_scale`` (Wan's 8); each latent element gets the share of its pixels
    that are valid.
    """
    m, s, n = mask.float(), latent_scale, frames_per_latent
    if m.ndim != 3 or (m.shape[0] - 1) % n or m.shape[1] % s or m.shape[2] % s:
        raise ValueError(f"mask must be (F, H, W) with F = {n}k+1 and H, W multiples of {s}, got {tuple(mask.shape)}")
    groups = torch.cat([m[:1], m[1:].reshape(-1, n, *m.shape[1:]).mean(1)])
    return torch.nn.functional.avg_pool2d(groups[:, None], s)[:, 0][None]


def latent_conditions(
    source_R,
    source_t,
    R,
    t,
    K,
    height: int,
    width: int,
    scale: float = 1.0,
    latent_scale: int = LATENT_SCALE,
    frames_per_latent: int = TEMPORAL_COMPRESSION,
):
    """The metric camera conditions of target cameras, one per latent frame (every
    ``frames_per_latent``-th frame, Wan's 4), relative to the source camera, in a scene of metric
    ``scale``.

    source_R (3, 3), source_t (3,); R (F, 3, 3), t (F, 3), K (F, 3, 3) the target cameras at the
    video's ``height`` x ``width``. Returns ReCamMaster's poses (f, 12) and FactorPortrait-style
    Plücker maps (6, f, height / s, width / s) at the latent resolution of a VAE that divides space
    by s = ``latent_scale`` (Wan's 8), float64.
    """
    from facecam_kit.baselines.plucker import relative_plucker
    from facecam_kit.geometry.trajectory import relative_extrinsics

    idx = slice(None, None, frames_per_latent)
    R, t = np.asarray(R, np.float64)[idx], np.asarray(t, np.float64)[idx]
    K = np.asarray(K, np.float64)[idx] * np.array([[1 / latent_scale], [1 / latent_scale], [1.0]])
    poses = relative_extrinsics(source_R, source_t, R, t, scale)
    maps = relative_plucker(source_R, source_t, R, t, K, height // latent_scale, width // latent_scale, scale)
    return poses, maps.transpose(1, 0, 2, 3)


def _item_conditions(
    item: dict, latent_scale: int = LATENT_SCALE, frames_per_latent: int = TEMPORAL_COMPRESSION
) -> tuple[np.ndarray, np.ndarray]:
    keys = ("source_R", "source_t", "R", "t", "K")
    scale = float(item.get("scene_scale", 1.0))
    size = item["target"].shape[-2:]
    return latent_conditions(*(item[k].double().numpy() for k in keys), *size, scale, latent_scale, frames_per_latent)


def camera_poses(item: dict) -> torch.Tensor:
    """ReCamMaster's (f, 12) poses of a dataset item's target cameras (:func:`latent_conditions`),
    relative to its source camera (as the official training script), scaled by its ``scene_scale``
    (1 when the item has none)."""
    return torch.from_numpy(_item_conditions(item)[0]).float()


def plucker_maps(item: dict) -> torch.Tensor:
    """The (6, f, h, w) Plücker maps of a dataset item's target cameras at latent resolution
    (:func:`latent_conditions`), in its source camera's frame, scaled by its ``scene_scale``."""
    return torch.from_numpy(_item_conditions(item)[1]).float().contiguous()


def encode_item(item: dict, encode: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the cache stores of one dataset item (keys in the module docstring, without the index);
    masks and ray maps at the latent resolution ``encode`` gives."""
    out = {}
    with torch.no_grad():
        for key in ("source", "target", "condition"):
            video = item[key].permute(1, 0, 2, 3)[None]  # (F, 3, H, W) -> (1, 3, F, H, W)
            out[key] = encode(video)[0].float().cpu().contiguous()
    # what the VAE compresses, read from its output: Wan's 8 pixels and 4 frames a latent
    latent_scale = item["target"].shape[-1] // out["target"].shape[-1]
    frames, latent_frames = item["target"].shape[0], out["target"].shape[1]
    per_latent = (frames - 1) // (latent_frames - 1) if latent_frames > 1 else TEMPORAL_COMPRESSION
    if "mask" in item:
        out["mask"] = latent_mask(torch.as_tensor(item["mask"]), latent_scale, per_latent).contiguous()
    if all(k in item for k in ("R", "t", "K", "source_R", "source_t")):
        poses, maps = _item_conditions(item, latent_scale, per_latent)
        out["camera"] = torch.from_numpy(poses).float().contiguous()
        out["plucker"] = torch.from_numpy(maps).float().contiguous()
        if "source_K" in item:
            out["intrinsics"] = torch.from_numpy(item_intrinsics(item, poses, per_latent)).float().contiguous()
    if "scene_scale" in item:
        out["scene_scale"] = torch.tensor([float(item["scene_scale"])])
    return out


def item_intrinsics(item: dict, poses: np.ndarray, frames_per_latent: int = TEMPORAL_COMPRESSION) -> np.ndarray:
    """The (f, 8) normalised intrinsics of a dataset item's target (at its latent frames, every
    ``frames_per_latent``-th) and source cameras, which
    :func:`~facecam_kit.baselines.recammaster.camera_with_intrinsics` appends to the poses."""
    from facecam_kit.baselines.recammaster import camera_with_intrinsics

    K = item["K"].double().numpy()[::frames_per_latent]
    h, w = item["target"].shape[-2:]
    return camera_with_intrinsics(poses, K, item["source_K"].double().numpy(), h, w)[:, 12:]


def validation_pixels(item: dict) -> dict[str, torch.Tensor]:
    """An item's ``source`` and ``condition`` frames as (F, 3, H, W) uint8 (for validation videos)."""
    return {k: ((item[k] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8) for k in ("source", "condition")}


class LazyLatents(torch.utils.data.Dataset):
    """The cache's view of a dataset, encoded on access instead of read from disk: what
    :class:`CachedLatents` would hold, item for item, without building it (a few steps of a run
    whose cache is not at hand, e.g. checking a recorded loss curve). Keys as the cache."""

    def __init__(self, dataset, encode, prompt_embeds: torch.Tensor, empty_embeds: torch.Tensor):
        self.dataset, self.encode = dataset, encode
        self._text = (prompt_embeds.float(), empty_embeds.float())
        self.keys = sorted(self[0])

    def __len__(self) -> int:
        return len(self.dataset)

    def text(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._text

    def validation_pixels(self) -> dict[str, torch.Tensor]:
        return validation_pixels(self.dataset[0])

    def __getitem__(self, i: int) -> dict:
        return encode_item(self.dataset[i], self.encode)


def _atomic_dir(final: Path) -> Path:
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def build_cache(
    dataset,
    encode: Callable[[torch.Tensor], torch.Tensor],
    cache_dir,
    prompt_embeds: torch.Tensor,
    empty_embeds: torch.Tensor,
    settings: dict,
    shard_size: int = 64,
    progress: bool = True,
) -> Path:
    """Encode every item of ``dataset`` into ``cache_dir`` (layout in the module docstring).

    dataset: items with ``source``, ``target``, ``condition`` (F, 3, H, W) in [-1, 1], optional
    ``mask`` (F, H, W) and cameras (``R``, ``t``, ``K``, ``source_R``, ``source_t``, ``scene_scale``);
    encode: (1, 3, F, H, W) video -> (1, 16, f, h, w)
    normalised latents (``FaceCamPipeline.encode_video``); prompt_embeds / empty_embeds: (L, D);
    settings: what the cache depends on (recorded; compared when the cache exists). Returns the folder.
    A complete cache with the same settings is reused as is.
    """
    from safetensors.torch import save_file

    cache_dir = Path(cache_dir)
    if (cache_dir / "index.json").is_file():
        index = json.loads((cache_dir / "index.json").read_text())
        if index.get("settings") != settings:
            raise ValueError(
                f"latent cache {cache_dir} was built with other settings ({settings_hash(index.get('settings', {}))} "
                f"vs {settings_hash(settings)}): delete it or set cache_dir elsewhere"
            )
        return cache_dir
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: nothing to cache")
    tmp = _atomic_dir(cache_dir)
    shards, shard, first = [], {}, None
    latent_shape = None

    def flush():
        name = f"shard_{len(shards):05d}.safetensors"
        save_file(shard, tmp / name)
        count = len({k.split(".")[0] for k in shard})
        start = shards[-1]["start"] + shards[-1]["count"] if shards else 0
        shards.append({"file": name, "start": start, "count": count})
        shard.clear()

    with torch.no_grad():
        for i in tqdm(range(len(dataset)), desc="caching latents", disable=not progress):
            item = dataset[i]
            shard.update({f"{i}.{k}": v for k, v in encode_item(item, encode).items()})
            latent_shape = list(shard[f"{i}.target"].shape)
            if first is None:
                first = validation_pixels(item)
            if len({k.split(".")[0] for k in shard}) == shard_size:
                flush()
        if shard:
            flush()
    save_file(
        {"prompt": prompt_embeds.float().contiguous(), "empty": empty_embeds.float().contiguous()},
        tmp / "prompt.safetensors",
    )
    save_file({k: v.contiguous() for k, v in first.items()}, tmp / "validation.safetensors")
    keys = sorted({k.split(".", 1)[1] for k in _keys(tmp / shards[0]["file"])})
    seed = settings.get("data_seed", 0)
    index = {
        "format": FORMAT,
        "num_samples": len(dataset),
        "shards": shards,
        "keys": keys,
        "latent_shape": latent_shape,
        "settings": settings,
        "augmentation_seeds": [[seed, i] for i in range(len(dataset))],
    }
    (tmp / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    shutil.rmtree(cache_dir, ignore_errors=True)
    tmp.rename(cache_dir)
    return cache_dir


def _keys(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        return list(f.keys())


class CachedLatents(torch.utils.data.Dataset):
    """A latent cache (:func:`build_cache`) as a dataset of dicts of tensors; shards load lazily."""

    def __init__(self, cache_dir):
        self.root = Path(cache_dir)
        path = self.root / "index.json"
        if not path.is_file():
            raise ValueError(f"{self.root} is not a latent cache: index.json is missing (build it with build_cache)")
        self.index = json.loads(path.read_text())
        if self.index.get("format") != FORMAT:
            raise ValueError(f"{path}: format {self.index.get('format')!r} is not {FORMAT!r}")
        self.keys = self.index["keys"]
        self._shard_id, self._shard = None, None

    def __len__(self) -> int:
        return self.index["num_samples"]

    def text(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompt's and the empty prompt's embeddings, (L, D) each."""
        from safetensors.torch import load_file

        t = load_file(self.root / "prompt.safetensors")
        return t["prompt"], t["empty"]

    def validation_pixels(self) -> dict[str, torch.Tensor]:
        """The first sample's ``source`` and ``condition`` frames, (F, 3, H, W) uint8."""
        from safetensors.torch import load_file

        return load_file(self.root / "validation.safetensors")

    def __getitem__(self, i: int) -> dict:
        from safetensors.torch import load_file

        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} of a cache of {len(self)}")
        sid = next(s for s, sh in enumerate(self.index["shards"]) if sh["start"] <= i < sh["start"] + sh["count"])
        if sid != self._shard_id:
            self._shard_id, self._shard = sid, load_file(self.root / self.index["shards"][sid]["file"])
        return {k: self._shard[f"{i}.{k}"] for k in self.keys}
