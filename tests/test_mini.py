"""FaceCam-mini: its camera conditions, the scale experiment's scenes, and the shipped models."""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from facecam_kit.mini import experiment as ex
from facecam_kit.mini.models import MINI_DIR, load_mini_pipeline, missing_files
from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler, tiny_dit_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scenes():
    """One held-out head along the sweep's orbit and a tilt, at the training scale and at twice it."""
    from facecam_kit.mini.recipe import SHIPPED

    made, dropped = SHIPPED.sweep_scenes([0], ("orbit_left",), ("tilt_up",), (1.0, 2.0))
    assert not dropped
    return made


def by_name(scenes, name):
    return next(s for s in scenes if s.name == name)


def test_scale_changes_the_target_and_the_landmarks_but_not_the_metric_conditions(scenes):
    a, b = by_name(scenes, "head0_orbit_left_x1"), by_name(scenes, "head0_orbit_left_x2")
    np.testing.assert_array_equal(a.source, b.source)  # the source pixels cannot tell the scale
    np.testing.assert_allclose(a.extrinsics, b.extrinsics, atol=1e-12)
    np.testing.assert_allclose(a.plucker, b.plucker, atol=1e-12)
    moved = np.abs(a.target.astype(int) - b.target).max(-1) > 40
    assert moved[-1].mean() > 0.05  # the last target frames differ on many pixels
    assert np.abs(a.target_landmarks[-1] - b.target_landmarks[-1]).max() > 5  # and so do the landmarks
    # a pure rotation (tilt) moves no camera centre: every scale gives the same target
    t1, t2 = by_name(scenes, "head0_tilt_up_x1"), by_name(scenes, "head0_tilt_up_x2")
    np.testing.assert_array_equal(t1.target, t2.target)
    # the conditions hold what they claim: the last pose's translation is the metric motion
    assert np.linalg.norm(a.extrinsics[-1].reshape(3, 4)[:, 3]) > 0.4  # 10 degrees at ~2.7 units: a 0.47 chord
    # one condition per latent frame (the shipped VAE keeps all 5) at its latent size (96 / 4)
    assert a.plucker.shape == (6, 5, 24, 24) and a.extrinsics.shape == (5, 12)


def test_identity_is_scored_on_the_scenes_of_the_chosen_scales_only(scenes):
    """dlib's identity is two thirds of the scoring time: a recipe scores it at some scales; the
    copied source is its own person (similarity 1) where scored, NaN elsewhere."""
    videos = {}
    rows = ex.run_scale_experiment({}, scenes, ("copy_source",), identity_scales=(1.0,), progress=False, videos=videos)
    assert sorted(r["scale"] for r in rows) == [1.0, 1.0, 2.0, 2.0]
    assert all(np.array_equal(videos[("copy_source", sc.name)], sc.source) for sc in scenes)
    assert all(r["identity"] > 0.99 if r["scale"] == 1.0 else np.isnan(r["identity"]) for r in rows)


def test_scaled_path_keeps_the_rotation_and_shrinks_the_motion():
    path = ex.trajectory_cameras("arc_left", 0.0, 9)
    np.testing.assert_allclose(ex.scaled_path(path, 1.0).t, path.t, atol=1e-12)
    half = ex.scaled_path(path, 2.0)
    np.testing.assert_array_equal(half.R, path.R)
    c, ch = path.centers, half.centers
    np.testing.assert_allclose(ch - ch[0], (c - c[0]) / 2, atol=1e-12)


def test_dataset_scene_scale_changes_no_pixel(tmp_path):
    from facecam_kit.data.dataset import StudioDataset
    from facecam_kit.data.studio import make_studio
    from facecam_kit.train.cache import camera_poses, plucker_maps

    make_studio(tmp_path, num_heads=1, num_cameras=3, num_frames=5, size=32, seed=0, progress=False)
    plain = StudioDataset(tmp_path, 5, 4, augment=False)[1]
    scaled_ds = StudioDataset(tmp_path, 5, 4, augment=False, scene_scale_range=(0.5, 2.0))
    scaled = scaled_ds[1]
    s = float(scaled["scene_scale"])
    assert 0.5 <= s <= 2.0 and float(plain["scene_scale"]) == 1.0
    assert len({float(scaled_ds[i]["scene_scale"]) for i in range(4)}) == 4
    for key in ("source", "target", "condition", "R", "t"):
        torch.testing.assert_close(scaled[key], plain[key])
    # the metric conditions: rotation alike, translation times the scale
    p, q = camera_poses(plain).view(-1, 3, 4), camera_poses(scaled).view(-1, 3, 4)
    torch.testing.assert_close(q[:, :, :3], p[:, :, :3])
    torch.testing.assert_close(q[:, :, 3], s * p[:, :, 3])
    mp, mq = plucker_maps(plain), plucker_maps(scaled)
    torch.testing.assert_close(mq[3:], mp[3:])  # directions
    torch.testing.assert_close(mq[:3], s * mp[:3], atol=1e-5, rtol=1e-5)  # moments o x d
    with pytest.raises(ValueError, match="scene_scale_range"):
        StudioDataset(tmp_path, 5, 4, scene_scale_range=(2.0, 1.0))


@pytest.mark.parametrize("kind", ["plucker", "extrinsics"])
def test_pipeline_takes_each_camera_condition(kind):
    """A pipeline of every camera kind runs, and its output depends on the camera condition."""
    from diffusers import WanTransformer3DModel

    from facecam_kit.baselines.recammaster import ReCamMasterTransformer
    from facecam_kit.mini.vae import MINI_VAE_CONFIG, mini_vae
    from facecam_kit.model.pipeline import condition_channels

    torch.manual_seed(0)
    vae = mini_vae(0)
    cls = ReCamMasterTransformer if kind == "extrinsics" else WanTransformer3DModel
    model = cls(**tiny_dit_config(16 + condition_channels(kind)))
    if kind == "extrinsics":  # ReCamMaster's camera encoder starts at zero: give it something to say
        for block in model.blocks:
            torch.nn.init.normal_(block.cam_encoder.weight, std=0.5)
    pipe = FaceCamPipeline(model, vae, make_scheduler(), camera_kind=kind)
    pipe.set_progress_bar_config(disable=True)
    src = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    shape = (1, 6, 2, 4, 4) if kind == "plucker" else (1, 2, 12)
    g = torch.Generator().manual_seed(0)
    cam1, cam2 = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    kw = dict(prompt_embeds=torch.zeros(1, 4, 32), guidance_scale=1.0, num_inference_steps=2)
    out1 = pipe(src, cam1, generator=torch.Generator().manual_seed(0), **kw).frames
    out2 = pipe(src, cam2, generator=torch.Generator().manual_seed(0), **kw).frames
    assert out1.shape == (1, 5, 32, 32, 3)
    assert np.abs(out1 - out2).max() > 1e-4
    with pytest.raises(ValueError, match="camera_condition for camera_kind"):
        pipe(src, torch.zeros(1, 3, 12), **kw)
    with pytest.raises(ValueError, match="input channels"):
        FaceCamPipeline(model, vae, make_scheduler(), camera_kind="landmarks")
    wide = mini_vae(0, config={**MINI_VAE_CONFIG, "z_dim": 32})  # a VAE of 32 channels: 16 predicted is refused
    with pytest.raises(ValueError, match="out_channels=32"):
        FaceCamPipeline(
            cls(**tiny_dit_config(32 + condition_channels(kind, 32))), wide, make_scheduler(), camera_kind=kind
        )


def test_a_scenes_video_does_not_depend_on_the_batch_it_is_generated_in():
    """Every item of a batch starts from a lone call's noise: the experiment's rows can be regenerated
    one scene at a time (notebook 09 checks three against results.json)."""
    from diffusers import WanTransformer3DModel

    from facecam_kit.mini.vae import mini_vae
    from facecam_kit.model.pipeline import condition_channels

    torch.manual_seed(0)
    model = WanTransformer3DModel(**tiny_dit_config(16 + condition_channels("plucker")))
    pipe = FaceCamPipeline(model, mini_vae(0), make_scheduler(), camera_kind="plucker")
    pipe.set_progress_bar_config(disable=True)
    sources = np.random.default_rng(0).integers(0, 255, (3, 5, 32, 32, 3), dtype=np.uint8)
    cameras = [torch.randn(1, 6, 2, 4, 4, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    together = ex.generate_batch(pipe, sources, cameras, steps=2)
    alone = np.stack([ex.generate_batch(pipe, sources[i : i + 1], cameras[i : i + 1], steps=2)[0] for i in range(3)])
    assert np.abs(together.astype(int) - alone).max() <= 1  # uint8 rounding of last-bit differences
    assert np.abs(together[1].astype(int) - together[2]).max() > 1  # and the scenes still differ


def test_vae_training_decoder_is_the_decoder_without_its_clamp():
    from facecam_kit.mini.vae import decode_unclamped, mini_vae

    vae = mini_vae(0).eval()
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        raw = decode_unclamped(vae, z)
        torch.testing.assert_close(raw.clamp(-1, 1), vae.decode(z).sample)


def test_head_box_finds_the_non_white_pixels():
    frames = np.full((2, 20, 30, 3), 255, np.uint8)
    frames[0, 5:9, 10:14] = 0  # a 4x4 square centred on (12, 7) in (x, y)
    frames[1, 0:10, 0:10] = 100
    centre, size = ex.head_box(frames)
    np.testing.assert_allclose(centre, [[11.5, 6.5], [4.5, 4.5]])
    np.testing.assert_allclose(size, [4.0, 10.0])


# -- the shipped models ---------------------------------------------------------------------------
def test_shipped_models_are_complete_small_clean_and_load():
    from facecam_kit.mini.recipe import SHIPPED
    from facecam_kit.mini.stages import load_results

    assert missing_files() == [], "run `python -m facecam_kit train-mini`"
    size = sum(p.stat().st_size for p in MINI_DIR.rglob("*") if p.is_file())
    assert size < 30e6, f"data_samples/facecam_mini is {size / 1e6:.1f} MB"
    provenance, _, recipe = load_results(MINI_DIR)  # refused if the recipe changed since they were made
    assert recipe is SHIPPED
    assert set(provenance["dits"]) == {SHIPPED.run_name(a, s) for a in SHIPPED.arms for s in SHIPPED.seeds}
    # made from committed trees: every stage names a commit with nothing changed in facecam_kit/
    commits = [provenance["commit"], provenance["vae"]["commit"]] + [d["commit"] for d in provenance["dits"].values()]
    assert all(len(c) == 40 and "+" not in c for c in commits), commits
    for arm, settings in SHIPPED.arms.items():
        pipe = load_mini_pipeline(arm)
        assert pipe.config.camera_kind == settings["camera"] and not pipe.config.random_weights
        for seed in SHIPPED.seeds:
            history = provenance["dits"][SHIPPED.run_name(arm, seed)]["history"]
            assert history[-1]["step"] == SHIPPED.dit_steps
            assert history[-1]["loss"] < 0.7 * history[0]["loss"]  # it learnt
    # the landmark model is a pipeline folder: render --weights and from_pretrained load it
    pipe = FaceCamPipeline.from_pretrained(MINI_DIR / "landmarks")
    assert pipe.transformer_2 is None and pipe.config.camera_kind == "landmarks"


def test_the_shipped_readme_is_their_provenance_in_words():
    from facecam_kit.mini.models import readme

    provenance = json.loads((MINI_DIR / "provenance.json").read_text())
    text = (MINI_DIR / "README.md").read_text()
    assert text == readme(provenance), "regenerate data_samples/facecam_mini/README.md with mini.models.readme"
    # a VAE reused from an earlier run is named by its own commit, never passed off as the run's
    made_here = {**provenance, "vae": {**provenance["vae"], "commit": provenance["commit"]}}
    assert "reused with `--vae`" not in readme(made_here)
    if provenance["vae"]["commit"] != provenance["commit"]:
        assert f"trained at commit `{provenance['vae']['commit']}`, reused" in text


def test_shipped_models_generate_each_scene():
    from facecam_kit.mini.recipe import SHIPPED

    (scene,), _ = SHIPPED.sweep_scenes([0], ("orbit_left",), (), (1.0,))
    for arm in SHIPPED.arms:
        video = ex.generate(load_mini_pipeline(arm), scene, steps=4)
        assert video.shape == scene.target.shape and video.dtype == np.uint8
        again = ex.generate(load_mini_pipeline(arm), scene, steps=4)
        assert np.abs(video.astype(int) - again).max() <= 1  # seeded


def test_the_sampler_changes_a_token_only_inside_the_dits_output_space(scenes):
    """The shipped DiT writes 512 values a token from 128 features: its sampler leaves the starting
    noise outside that span as it was (notebook 09, section 6)."""
    from facecam_kit.mini import output_space

    pipe = load_mini_pipeline("landmarks")
    got = output_space.scene_noise_left(pipe, scenes[0], steps=4)
    print(got)
    assert got["values_per_token"] == 512 and got["rank"] == 129  # 128 columns and the bias
    assert got["changed_outside"] < 1e-5
    assert 0.2 < got["noise_share"] < 1 and 0.05 < got["truth_outside"] < 1
    # the tokens are proj_out's: a basis of every value leaves nothing outside
    start = ex.start_noise(pipe, *scenes[0].source.shape[:2])
    tokens = output_space.patch_tokens(start, pipe.transformer.config.patch_size)
    assert tokens.shape == (5 * 6 * 6, 512)
    assert output_space.outside(tokens, torch.eye(512, dtype=torch.float64)).abs().max() < 1e-12


class _Oracle(torch.nn.Module):
    """A DiT that answers ``velocity`` on the target half and junk on the source half (or the reverse)."""

    def __init__(self, velocity: torch.Tensor, on_source: bool = False):
        super().__init__()
        self.velocity, self.on_source, self.seen = velocity, on_source, None

    def forward(self, x, t, emb, return_dict=False, **kwargs):
        self.seen = (x, t)
        junk = torch.full_like(self.velocity, 7.0)
        return (torch.cat([junk, self.velocity] if self.on_source else [self.velocity, junk], 2),)


def test_the_shipped_recipe_trains_on_the_velocity_its_sampler_undoes_at_the_recorded_rate(tmp_path):
    """What retraining the shipped landmark DiT guarded (365 s), in seconds: the loss the shipped
    recipe's own configuration builds is against eps - x0 on the target half (a DiT that knows it
    scores 0; the flipped velocity, or the answer on the source half, does not), one step of the
    shipped pipeline's scheduler from the noised target it was given lands on the target, and the
    learning rate at the recorded step is the recorded one."""
    from transformers import get_scheduler

    from facecam_kit.mini import recipe, stages
    from facecam_kit.spec import vae_compression
    from facecam_kit.train import flow_matching as fm
    from facecam_kit.train.objective import draw_sample_noise, flow_matching_loss, step_expert

    shipped = recipe.SHIPPED
    provenance = json.loads((MINI_DIR / "provenance.json").read_text())
    recorded = provenance["dits"][shipped.run_name("landmarks", 0)]["history"][0]
    cfg = stages.dit_config(tmp_path, "landmarks", recipe=shipped, vae=str(MINI_DIR / "landmarks" / "vae"))
    pipe = load_mini_pipeline("landmarks")
    per_frame, per_pixel = vae_compression(pipe.vae.config.temperal_downsample)
    f, side = 1 + (shipped.num_frames - 1) // per_frame, shipped.size // per_pixel
    shape = (2, pipe.vae.config.z_dim, f, side, side)
    g = torch.Generator().manual_seed(0)
    batch = {k: torch.randn(shape, generator=g) for k in ("target", "source", "condition")}
    positions, expert = [3, 8], step_expert(cfg, 0, single_model=True)  # one DiT for every timestep
    noise = torch.stack([draw_sample_noise(cfg, p, expert, shape[1:])["noise"] for p in positions])
    text = torch.zeros(4, pipe.transformer.config.text_dim)
    velocity = noise - batch["target"]
    oracle = _Oracle(velocity)
    assert float(flow_matching_loss(oracle, batch, text, text, cfg, expert, positions)[0]) < 1e-10
    for wrong in (_Oracle(-velocity), _Oracle(velocity, on_source=True)):
        assert float(flow_matching_loss(wrong, batch, text, text, cfg, expert, positions)[0]) > 0.1
    x, t = oracle.seen
    for b, p in enumerate(positions):
        sigma = draw_sample_noise(cfg, p, expert, shape[1:])["sigma"]
        scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config)
        scheduler.set_timesteps(sigmas=fm.unshift_sigmas(sigma.double().numpy()))
        assert float(scheduler.timesteps[0]) == pytest.approx(float(t[b]), rel=1e-4)
        xt = x[b : b + 1, : shape[1], :f]  # the noised target: the first channels of the first frames
        x0 = scheduler.step(velocity[b : b + 1], scheduler.timesteps[0], xt).prev_sample
        torch.testing.assert_close(x0[0], batch["target"][b], atol=1e-4, rtol=1e-4)
    # the recorded run's schedule: the learning rate it logged at step 10
    assert cfg.max_steps == provenance["recipe"]["dit_steps"]
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = get_scheduler("cosine", opt, num_warmup_steps=cfg.lr_warmup_steps, num_training_steps=cfg.max_steps)
    for _ in range(recorded["step"]):  # the rate after that many steps, as the trainer logs it
        opt.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(recorded["lr"], rel=1e-6)


def test_train_mini_runs_every_stage_of_the_scale_recipe_at_toy_size(tmp_path, monkeypatch):
    """The scale recipe's stages at toy size (recipe.SMOKE): studio on the varied rig, VAE and its
    gate, four arms of two seeds on one cache, export of the first seed; a rerun reuses every stage."""
    from facecam_kit.mini import models, recipe, stages

    work, out = tmp_path / "work", tmp_path / "models"
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # as a user runs it: every core is its to share
    stages.train_mini(work, out, progress=False, recipe=recipe.SMOKE)
    gate = json.loads((work / "vae" / "record.json").read_text())["gate"]
    assert gate["passed"] and gate["clips"] == 3 and 0 <= gate["detect_round_trip"] <= 1
    assert np.isfinite([gate["psnr_targets_db"], gate["psnr_conditions_db"]]).all()
    provenance = json.loads((out / "provenance.json").read_text())
    assert sorted(provenance["dits"]) == sorted(f"{a}_seed{s}" for a in recipe.SMOKE.arms for s in (0, 1))
    assert len(list((work / "cache").glob("shard_*.safetensors"))) >= 1 and not list(work.glob("*.partial"))
    # two runs at a time, each on its share of the threads, its progress in a log of its own; the
    # first builds the shared cache on every thread, then trains on its share
    share = max(1, (os.cpu_count() or 1) // 2)
    assert {r["threads"] for r in provenance["dits"].values()} == {share}
    assert all((work / "runs" / f"{name}.log").is_file() for name in provenance["dits"])
    first, *others = [json.loads((work / "runs" / f"{name}.json").read_text()) for name in provenance["dits"]]
    assert first["loop_threads"] == share and {c["loop_threads"] for c in others} == {None}
    assert 0 < provenance["seconds"]["dits"] < sum(provenance["seconds"][name] for name in provenance["dits"])
    assert models.missing_files(out) == [] and set(models.arms(out)) == set(recipe.SMOKE.arms)
    told = models.load_mini_pipeline("extrinsics_told", out)
    assert told.config.camera_kind == "extrinsics" and told.transformer.camera_dim == 20
    plucker = models.load_mini_pipeline("plucker", out)  # its rays at the space / 4 VAE's latent size
    assert tuple(plucker.transformer.config.patch_size) == (1, 4, 4) and plucker.vae.config.dim_mult == [1, 2, 4]
    # its VAE keeps every frame (time / 1): 5 frames are 5 latent frames, each with its camera condition
    from facecam_kit.train.cache import CachedLatents

    cached = CachedLatents(work / "cache")[0]
    assert cached["target"].shape[1] == 5 and cached["camera"].shape == (5, 12) and cached["plucker"].shape[1] == 5
    assert cached["intrinsics"].shape == (5, 8)
    # every stage names the commit it ran from (a resumed run's stages may come from several)
    commits = [provenance["vae"]["commit"]] + [r["commit"] for r in provenance["dits"].values()]
    assert all(c == provenance["commit"] for c in commits)
    # the experiment's results travel with the models: every row of both seeds, the controls once
    results = json.loads((out / "results.json").read_text())
    rows = {(r["row"], r["seed"]) for r in results["rows"]}
    assert rows == {(row, s) for row in ex.ROWS for s in (0, 1)} | {(c, 0) for c in ex.CONTROLS}
    smoke, n = recipe.SMOKE, results["scenes"]
    lost = sum(len(smoke.scales) for d in results["dropped"] if d["trajectory"] in smoke.sweep)
    assert n["sweep"] == 2 * len(smoke.scales) * len(smoke.sweep) - lost  # nothing dropped silently
    assert results["scenes_by_seed"]["1"]["sweep"] == n["sweep"] // 2  # the second seed at seed_scales only
    assert {r["scale"] for r in results["rows"] if r["seed"] == 1 and r["setting"] != "table2"} == {2.0}
    # the heads were evaluated in two processes, each part written once
    assert sorted(p.name for p in (work / "eval").iterdir()) == [
        f"heads0{h}-0{h}_seed{s}.json" for h in (0, 1) for s in (0, 1)
    ]
    copy = [r for r in results["rows"] if r["row"] == "copy_source" and r["setting"] == "rotation"]
    assert len(copy) == 2 * len(smoke.scales) and all(np.isfinite(r["psnr"]) for r in copy)
    table = ex.scale_table(results["rows"], "psnr")
    assert set(table["extrinsics"]) == set(smoke.scales) and "gap" in table["extrinsics"][2.0]
    assert "recipe `smoke`" in (out / "README.md").read_text()
    # what notebook 09 reads: refused when the recipe changed since the models were made
    assert stages.load_results(out)[2] is recipe.SMOKE
    provenance["recipe"]["dit_steps"] += 1
    (out / "provenance.json").write_text(json.dumps(provenance))
    with pytest.raises(ValueError, match="before its dit_steps changed"):
        stages.load_results(out)
    with pytest.raises(ValueError, match="has no provenance.json or results.json"):
        stages.load_results(tmp_path)
    # a trained VAE stage can start another run of the same recipe (train-mini --vae), not another's
    stages.check_vae_stage(work / "vae", recipe.SMOKE)
    with pytest.raises(ValueError, match="trained with other .*size.* than recipe 'scale'"):
        stages.check_vae_stage(work / "vae", recipe.SCALE)
    with pytest.raises(ValueError, match="not a trained VAE stage"):
        stages.check_vae_stage(work, recipe.SMOKE)
    stamp = (work / "vae" / "record.json").stat().st_mtime
    stages.train_mini(work, out, progress=False, recipe=recipe.SMOKE)  # every stage reused
    assert (work / "vae" / "record.json").stat().st_mtime == stamp
    failing = dataclasses.replace(recipe.SMOKE, gate=dict(recipe.SMOKE.gate, psnr_db=99.0))
    with pytest.raises(stages.GateFailed, match=r"psnr_targets_db .* < 99.0"):
        stages.train_mini(tmp_path / "w2", tmp_path / "m2", progress=False, recipe=failing)
    assert not (tmp_path / "w2" / "runs").exists() and not (tmp_path / "m2").exists()  # no DiT trained


def test_vae_trains_on_crops_and_short_windows_and_refuses_bad_ones():
    """The VAE is convolutional and causal: it trains on 16 x 16 crops of 5-frame windows of 9-frame
    clips and still encodes whole clips; a window or crop it cannot take is refused by name."""
    from facecam_kit.mini.vae import MINI_VAE_CONFIG, train_vae

    clips = np.random.default_rng(0).integers(0, 255, (3, 9, 32, 32, 3), dtype=np.uint8)
    config = dict(MINI_VAE_CONFIG, base_dim=8)
    vae, losses = train_vae(clips, 2, 1, progress=False, config=config, frames=5, crop=16)
    assert len(losses) == 2 and np.isfinite(losses).all()
    with torch.no_grad():
        z = vae.encode(torch.zeros(1, 3, 9, 32, 32)).latent_dist.mode()
    assert z.shape == (1, 16, 3, 4, 4)
    with pytest.raises(ValueError, match="frames must be 4k\\+1"):
        train_vae(clips, 1, progress=False, config=config, frames=4)
    with pytest.raises(ValueError, match="crop must be a multiple of 8"):
        train_vae(clips, 1, progress=False, config=config, crop=12)


@pytest.mark.parametrize("downsample", [[False, True, True], [True, True], [False, True], [False, False]])
def test_vae_compression_is_what_the_vae_does(downsample):
    """Frames and pixels per latent, as the kit reads them from a VAE's config, are its latents' shape."""
    from facecam_kit.mini.vae import mini_vae, spatial_compression, temporal_compression
    from facecam_kit.spec import vae_compression

    vae = mini_vae(
        0, config=dict(base_dim=8, z_dim=4, dim_mult=[1] * (len(downsample) + 1), temperal_downsample=downsample)
    )
    with torch.no_grad():
        z = vae.encode(torch.zeros(1, 3, 9, 32, 32)).latent_dist.mode()
    per_latent, s = vae_compression(downsample)
    assert (temporal_compression(vae), spatial_compression(vae)) == (per_latent, s)
    assert z.shape[2:] == (8 // per_latent + 1, 32 // s, 32 // s)


def test_scale_growth_is_each_rows_error_relative_to_its_own_at_scale_1():
    """Rows of synthetic scores: one row's error doubles at scales 0.5 and 2 on every head (ratio 2,
    resolved), another's does not move (ratio 1, not resolved); seeds of a head are averaged first,
    rotations stay out, a missing reference is NaN."""
    rows = []
    for head in range(6):
        for scale in (0.5, 1.0, 2.0):
            for seed in (0, 1):
                grow = 2.0 if scale != 1.0 else 1.0
                base = dict(head=head, scale=scale, seed=seed, setting="sweep")
                rows.append(base | {"row": "extrinsics", "centre_px": (3 + head) * grow + seed})
                rows.append(base | {"row": "FaceCam", "centre_px": 3 + head + 0.1 * seed * (scale - 1)})
                rows.append(base | {"row": "FaceCam", "centre_px": 99.0, "setting": "rotation"})
    rows.append(dict(head=0, scale=0.7, seed=0, setting="sweep", row="FaceCam", centre_px=5.0))
    growth = ex.scale_growth(rows)
    assert growth["extrinsics"][2.0]["mean"] > 1.8 and growth["extrinsics"][2.0]["resolved"]
    assert growth["extrinsics"][1.0]["mean"] == pytest.approx(1.0)
    assert abs(growth["FaceCam"][0.5]["mean"] - 1) < 0.02 and not growth["FaceCam"][1.0]["resolved"]
    assert np.isnan(growth["FaceCam"][0.7]["mean"]) and growth["FaceCam"][0.7]["n"] == 1
    assert ex.interval(growth["extrinsics"][1.0]) == "1.00 [1.00, 1.00]" and ex.interval({"mean": np.nan}) == "n/a"
    lines = ex.text_table(rows, ["centre_px"], scale=2.0).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["extrinsics", "FaceCam"]  # rotations' rows stay out
    assert lines[1].split()[1] == f"{np.mean([(3 + h) * 2 + 0.5 for h in range(6)]):.2f}"


def test_expectations_are_held_missed_or_unresolved_by_their_intervals():
    """Synthetic sweep rows where each answer is known: an interval wholly on the right side of a
    bound holds, wholly on the wrong side is missed, and one that straddles it is unresolved."""
    assert ex.verdict({"lo": 2.1, "hi": 3.0}, "at_least", 2.0) == "held"
    assert ex.verdict({"lo": 1.0, "hi": 1.9}, "at_least", 2.0) == "missed"
    assert ex.verdict({"lo": 1.5, "hi": 2.5}, "at_most", 2.0) == "unresolved"
    assert ex.verdict({"lo": 0.8, "hi": 1.2}, "within", 1.5) == "held"
    assert ex.verdict({"lo": 1.6, "hi": 2.0}, "within", 1.5) == "missed"
    assert ex.verdict({"lo": np.nan, "hi": np.nan}, "at_most", 2.0) == "unresolved"
    rng = np.random.default_rng(0)
    rows = []
    for head in range(8):
        for scale in (0.5, 1.0, 2.0):
            ends = scale != 1.0
            base = dict(
                head=head, scale=scale, seed=0, setting="sweep", psnr=np.nan, detect_rate=np.nan, rot_err_deg=np.nan
            )
            truth_rot = 1.0 + 0.1 * head
            scores = {
                "FaceCam": dict(psnr=25 + rng.normal(0, 0.3), detect_rate=0.5, rot_err_deg=1.5 * truth_rot),
                "ground_truth": dict(rot_err_deg=truth_rot),
            }
            centre = {
                "FaceCam": 3.0 + head,
                "extrinsics": (3.0 + head) * (3.0 if ends else 1.0),
                # 3x at scale 2 but about 2x at 0.5 (straddles the bound): unresolved, not held
                "plucker": (3.0 + head) * {0.5: rng.uniform(1.0, 3.0), 1.0: 1.0, 2.0: 3.0}[scale],
                "extrinsics_told": 1.2 * (3.0 + head),
            }
            for row, c in centre.items():
                rows.append(base | dict(scores.get(row, {}), row=row, centre_px=c))
            rows.append(base | dict(scores["ground_truth"], row="ground_truth", centre_px=0.0))
    got = {e["key"]: e["verdict"] for e in ex.expectations(rows)}
    assert got == {
        "facecam_psnr": "held",
        "facecam_faces": "missed",
        "facecam_rot_err": "held",
        "facecam_growth": "held",
        "extrinsics_growth": "held",
        "plucker_growth": "unresolved",
        "told_close": "held",
    }


def test_the_reach_recipe_is_the_scale_recipe_with_a_dit_that_reaches_every_latent_value():
    from types import SimpleNamespace

    from facecam_kit.mini import recipe
    from facecam_kit.model.pipeline import values_per_token

    for r, reaches in ((recipe.SCALE, False), (recipe.REACH, True)):
        dit = SimpleNamespace(patch_size=r.dit["patch_size"], out_channels=r.vae_config()["z_dim"])
        width = r.dit["num_attention_heads"] * r.dit["attention_head_dim"]
        assert (values_per_token(dit) <= width + 1) == reaches, r.name
    scale, reach = dataclasses.asdict(recipe.SCALE), dataclasses.asdict(recipe.REACH)
    assert {k for k in scale if scale[k] != reach[k]} == {"name", "vae", "dit_steps"}


def _copying(pipe):
    """A DiT forward whose clean estimate is its source half: it copies the source."""

    def forward(x, t, *args, **kwargs):
        z, f = pipe.vae.config.z_dim, x.shape[2] // 2
        return ((x[:, :z, :f] - x[:, :z, f:]) / (t / 1000).view(-1, 1, 1, 1, 1),)

    return forward


def test_source_reliance_is_what_the_source_adds_to_the_dits_clean_estimate(monkeypatch):
    """A DiT that copies its source estimates the target as the source's latents: with its own
    source the error is the copy's, with another head's it is that head's copy."""
    from facecam_kit.mini import source_use
    from facecam_kit.mini.recipe import SHIPPED
    from facecam_kit.mini.vae import clips_tensor

    made, _ = SHIPPED.sweep_scenes([0, 1], ("orbit_left",), (), (1.0,))
    assert source_use.swap_partners(made) == [1, 0]
    with pytest.raises(ValueError, match="another head"):
        source_use.swap_partners(made[:1])
    pipe = load_mini_pipeline("landmarks")
    real = source_use.source_reliance(pipe, made, sigmas=(0.9,))
    assert real["own"][0] > 0 and real["swapped"][0] > 0 and real["own"][0] != real["swapped"][0]

    monkeypatch.setattr(pipe.transformer, "forward", _copying(pipe))
    got = source_use.source_reliance(pipe, made, sigmas=(0.5, 0.9))
    with torch.no_grad():
        src = pipe.encode_video(clips_tensor(np.stack([s.source for s in made])))
        tgt = pipe.encode_video(clips_tensor(np.stack([s.target for s in made])))
    other = float(((src.flip(0) - tgt) ** 2).mean())
    assert got["own"] == pytest.approx([got["copy_source"]] * 2, rel=1e-4)
    assert got["swapped"] == pytest.approx([other] * 2, rel=1e-4)
    assert other > got["copy_source"]  # another head's face is further from the target than its own
    with pytest.raises(ValueError, match="sigmas"):
        source_use.source_reliance(pipe, made, sigmas=(1.0,))


def test_sample_reliance_swaps_training_samples_between_heads(tmp_path, monkeypatch):
    """On dataset items, the same measurement: a copying DiT's error is the copy's with its own
    source and the partner's copy error when swapped, the partner the next item of another head."""
    from facecam_kit.data.dataset import StudioDataset
    from facecam_kit.data.studio import make_studio
    from facecam_kit.mini import source_use
    from facecam_kit.mini.recipe import SHIPPED

    assert source_use.partners([0, 1, 0, 1]) == [1, 2, 3, 0]
    assert source_use.partners([0, 0, 1], ["a", "b", "a"]) == [2, None, 0]
    make_studio(tmp_path, 2, 3, SHIPPED.num_frames, SHIPPED.size, seed=5, progress=False)
    data = StudioDataset(tmp_path, SHIPPED.num_frames, 2, seed=0, **SHIPPED.data_options())
    items, heads = [data[i] for i in range(4)], [i % 2 for i in range(4)]
    pipe = load_mini_pipeline("landmarks")
    with pytest.raises(ValueError, match="two heads"):
        source_use.sample_reliance(pipe, items[::2], heads[::2])
    with pytest.raises(ValueError, match="head of each"):
        source_use.sample_reliance(pipe, items, heads[:3])

    monkeypatch.setattr(pipe.transformer, "forward", _copying(pipe))
    got = source_use.sample_reliance(pipe, items, heads, sigmas=(0.9,))
    with torch.no_grad():
        src, tgt = (
            pipe.encode_video(torch.stack([it[k] for it in items]).transpose(1, 2)) for k in ("source", "target")
        )
    assert got["own"] == pytest.approx([got["copy_source"]], rel=1e-4)
    assert got["swapped"] == pytest.approx([float(((src[[1, 2, 3, 0]] - tgt) ** 2).mean())], rel=1e-4)
