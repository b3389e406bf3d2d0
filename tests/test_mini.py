"""FaceCam-mini: its camera conditions, the scale experiment's scenes, and the shipped models."""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from facecam_kit.mini import experiment as ex
from facecam_kit.mini import tables
from facecam_kit.mini.models import MINI_DIR, load_mini_pipeline, missing_files

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


def test_a_long_scene_is_conditioned_in_windows_as_its_clips_trained():
    """Anchored every 5 frames (the training clip), frame f's condition is the head at the window's
    first frame: the per-frame condition at each window's start, frame 0's in the first window, and
    not frame 0's once the head has moved."""
    from facecam_kit.geometry.trajectory import load_trajectory
    from facecam_kit.mini.recipe import SHIPPED

    head = ex.held_out_head(1, SHIPPED.size, 13, SHIPPED.test_seed)
    path = load_trajectory("arc_left", 13).cameras()
    grid = {k: v for k, v in SHIPPED.scene_options().items() if k != "condition"}
    first, windows, per_frame = (
        ex.make_scene(head, path, 1.0, "arc_left", "demo", condition=c, anchor_every=n, **grid).condition
        for c, n in (("anchor", None), ("anchor", 5), ("per_frame", None))
    )
    np.testing.assert_array_equal(windows[:5], first[:5])
    np.testing.assert_array_equal(windows[[5, 10]], per_frame[[5, 10]])
    assert (np.abs(windows[5:].astype(int) - first[5:]).max(-1) > 40).mean() > 0.002


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


def test_a_scenes_video_does_not_depend_on_the_batch_it_is_generated_in():
    """Every item of a batch starts from a lone call's noise: the experiment's rows can be regenerated
    one scene at a time (notebook 09 checks three against results.json)."""
    from facecam_kit.mini.pipeline import tiny_mini_pipeline

    pipe = tiny_mini_pipeline("plucker")
    sources = np.random.default_rng(0).integers(0, 255, (3, 5, 32, 32, 3), dtype=np.uint8)
    cameras = [torch.randn(1, 6, 5, 8, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
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
def test_shipped_models_are_complete_small_clean_and_load(tmp_path):
    from facecam_kit.mini.pipeline import FaceCamMiniPipeline
    from facecam_kit.mini.recipe import SHIPPED
    from facecam_kit.mini.stages import load_results, unet_run

    assert missing_files() == [], "run `python -m facecam_kit train-mini`"
    weights = sum(p.stat().st_size for p in MINI_DIR.rglob("*.safetensors"))
    # the bound, 30 MB as du counts it (MiB): 30.0e6 bytes today, the UNets in float16
    assert weights < 30 * 2**20, f"data_samples/facecam_mini's weights are {weights / 2**20:.1f} MiB"
    size = sum(p.stat().st_size for p in MINI_DIR.rglob("*") if p.is_file())
    assert size < 35e6, f"data_samples/facecam_mini is {size / 1e6:.1f} MB"  # with every score of every scene
    provenance, _, recipe = load_results(MINI_DIR)  # refused if the recipe changed since they were made
    assert recipe is SHIPPED
    assert set(provenance["unets"]) == {SHIPPED.run_name(a, s) for a, s in SHIPPED.runs()}
    # made from committed trees: every stage names a commit with nothing changed in facecam_kit/
    commits = [provenance["commit"], provenance["vae"]["commit"]]
    assert all(len(c) == 40 and "+" not in c for c in commits), commits
    for arm, settings in SHIPPED.arms.items():
        pipe = load_mini_pipeline(arm)
        assert pipe.config.camera_kind == settings["camera"]
        assert next(pipe.unet.parameters()).dtype == torch.float32  # stored in float16, computed in float32
        for seed in SHIPPED.seeds_of(arm):
            record = provenance["unets"][SHIPPED.run_name(arm, seed)]
            assert record["history"][-1]["step"] == record["steps"] == SHIPPED.unet_steps
            assert record["history"][-1]["loss"] < 0.7 * record["history"][0]["loss"]  # it learnt
            # each run was the one the recipe's code makes today (the work folder aside)
            made = dataclasses.asdict(unet_run(tmp_path, arm, seed, SHIPPED))
            assert {k: v for k, v in record["run"].items() if not k.endswith("_dir") and k != "progress"} == {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in made.items()
                if not k.endswith("_dir") and k != "progress"
            }
    # the landmark model is a pipeline folder: render --weights and from_pretrained load it
    pipe = FaceCamMiniPipeline.from_pretrained(MINI_DIR / "landmarks")
    assert pipe.config.camera_kind == "landmarks"


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
        video = ex.generate(load_mini_pipeline(arm), scene)
        assert video.shape == scene.target.shape and video.dtype == np.uint8
        again = ex.generate(load_mini_pipeline(arm), scene)
        assert np.abs(video.astype(int) - again).max() <= 1  # seeded


def test_train_mini_runs_every_stage_of_the_scale_recipe_at_toy_size(tmp_path, monkeypatch):
    """The scale recipe's stages at toy size (recipe.SMOKE): studio on the varied rig, VAE and its
    gate, one cache, four arms (two seeds of two of them), evaluation, export of the first seed; a
    rerun reuses every stage."""
    from facecam_kit.mini import models, recipe, stages, studio_vae

    work, out = tmp_path / "work", tmp_path / "models"
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # as a user runs it: every core is its to share
    stages.train_mini(work, out, progress=False, recipe=recipe.SMOKE)
    gate = json.loads((work / "vae" / "record.json").read_text())["gate"]
    assert gate["passed"] and gate["clips"] == 3 and 0 <= gate["detect_round_trip"] <= 1
    assert np.isfinite([gate["psnr_targets_db"], gate["psnr_conditions_db"]]).all()
    provenance = json.loads((out / "provenance.json").read_text())
    runs = ["landmarks_seed0", "extrinsics_seed0", "plucker_seed0", "extrinsics_told_seed0"]
    assert list(provenance["unets"]) == runs + ["landmarks_seed1", "extrinsics_seed1"]  # seed by seed
    assert len(list((work / "cache").glob("shard_*.safetensors"))) >= 1 and not list(work.glob("*.partial"))
    # two runs at a time, each on its share of the threads, its progress in a log of its own
    share = max(1, (os.cpu_count() or 1) // 2)
    assert {r["threads"] for r in provenance["unets"].values()} == {share}
    assert all((work / "runs" / f"{name}.log").is_file() for name in provenance["unets"])
    walls = [r["wall_seconds"] for r in provenance["unets"].values()]
    assert 0 < provenance["seconds"]["unets"] < sum(walls)  # overlapping
    assert all(0 < provenance["seconds"][name] < r["wall_seconds"] for name, r in provenance["unets"].items())
    assert models.missing_files(out) == [] and set(models.arms(out)) == set(recipe.SMOKE.arms)
    told = models.load_mini_pipeline("extrinsics_told", out)
    assert told.config.camera_kind == "extrinsics" and told.unet.config.camera_dim == 20
    plucker = models.load_mini_pipeline("plucker", out)  # its rays at the space / 4 VAE's latent size
    assert plucker.unet.config.camera_channels == 6 and plucker.vae.config.dim_mult == [1, 2, 4]
    # its VAE keeps every frame (time / 1): 5 frames are 5 latent frames, each with its camera condition
    from facecam_kit.train.cache import CachedLatents

    cached = CachedLatents(work / "cache")[0]
    assert cached["target"].shape[1] == 5 and cached["camera"].shape == (5, 12) and cached["plucker"].shape[1] == 5
    assert cached["intrinsics"].shape == (5, 8)
    assert provenance["vae"]["commit"] == provenance["commit"]
    # the experiment's results travel with the models: every row of the first seed, the controls
    # once, the second seed's rows for the arms that have one
    results = json.loads((out / "results.json").read_text())
    rows = {(r["row"], r["seed"]) for r in results["rows"]}
    twice = {"FaceCam", "FaceCam*", "extrinsics"}
    assert rows == {(row, 0) for row in ex.ROWS} | {(row, 1) for row in twice} | {(c, 0) for c in ex.CONTROLS}
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
    table = tables.scale_table(results["rows"], "psnr")
    assert set(table["extrinsics"]) == set(smoke.scales) and "gap" in table["extrinsics"][2.0]
    assert "recipe `smoke`" in (out / "README.md").read_text()
    # what notebook 09 reads: refused when the recipe changed since the models were made
    assert stages.load_results(out)[2] is recipe.SMOKE
    provenance["recipe"]["unet_steps"] += 1
    (out / "provenance.json").write_text(json.dumps(provenance))
    with pytest.raises(ValueError, match="before its unet_steps changed"):
        stages.load_results(out)
    with pytest.raises(ValueError, match="has no provenance.json or results.json"):
        stages.load_results(tmp_path)
    # a trained VAE stage, or an export's VAE, can start another run of the same recipe
    # (train-mini --vae), not another's
    studio_vae.check_vae_stage(work / "vae", recipe.SMOKE)
    with pytest.raises(ValueError, match="trained with other .*size.* than recipe 'scale'"):
        studio_vae.check_vae_stage(work / "vae", recipe.SCALE)
    with pytest.raises(ValueError, match="not a trained VAE stage"):
        studio_vae.check_vae_stage(work, recipe.SMOKE)
    provenance["recipe"]["unet_steps"] -= 1
    (out / "provenance.json").write_text(json.dumps(provenance))
    studio_vae.check_vae_stage(out, recipe.SMOKE)
    stamp = (work / "vae" / "record.json").stat().st_mtime
    stages.train_mini(work, out, progress=False, recipe=recipe.SMOKE)  # every stage reused
    assert (work / "vae" / "record.json").stat().st_mtime == stamp
    # a new run started from the export's VAE trains no VAE and records where it came from
    again = tmp_path / "again"
    stages.train_mini(again / "work", again / "models", progress=False, recipe=recipe.SMOKE, vae=out)
    reused = json.loads((again / "models" / "provenance.json").read_text())["vae"]
    assert reused["seconds"] == provenance["vae"]["seconds"] and reused["settings"] == provenance["vae"]["settings"]
    failing = dataclasses.replace(recipe.SMOKE, gate=dict(recipe.SMOKE.gate, psnr_db=99.0))
    with pytest.raises(studio_vae.GateFailed, match=r"psnr_targets_db .* < 99.0"):
        stages.train_mini(tmp_path / "w2", tmp_path / "m2", progress=False, recipe=failing)
    assert not (tmp_path / "w2" / "runs").exists() and not (tmp_path / "m2").exists()  # no network trained


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
    growth = tables.scale_growth(rows)
    assert growth["extrinsics"][2.0]["mean"] > 1.8 and growth["extrinsics"][2.0]["resolved"]
    assert growth["extrinsics"][1.0]["mean"] == pytest.approx(1.0)
    assert abs(growth["FaceCam"][0.5]["mean"] - 1) < 0.02 and not growth["FaceCam"][1.0]["resolved"]
    assert np.isnan(growth["FaceCam"][0.7]["mean"]) and growth["FaceCam"][0.7]["n"] == 1
    assert (
        tables.interval(growth["extrinsics"][1.0]) == "1.00 [1.00, 1.00]" and tables.interval({"mean": np.nan}) == "n/a"
    )
    lines = tables.text_table(rows, ["centre_px"], scale=2.0).splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["extrinsics", "FaceCam"]  # rotations' rows stay out
    assert lines[1].split()[1] == f"{np.mean([(3 + h) * 2 + 0.5 for h in range(6)]):.2f}"


def test_expectations_are_held_missed_or_unresolved_by_their_intervals():
    """Synthetic sweep rows where each answer is known: an interval wholly on the right side of a
    bound holds, wholly on the wrong side is missed, and one that straddles it is unresolved."""
    assert tables.verdict({"lo": 2.1, "hi": 3.0}, "at_least", 2.0) == "held"
    assert tables.verdict({"lo": 1.0, "hi": 1.9}, "at_least", 2.0) == "missed"
    assert tables.verdict({"lo": 1.5, "hi": 2.5}, "at_most", 2.0) == "unresolved"
    assert tables.verdict({"lo": 0.8, "hi": 1.2}, "within", 1.5) == "held"
    assert tables.verdict({"lo": 1.6, "hi": 2.0}, "within", 1.5) == "missed"
    assert tables.verdict({"lo": np.nan, "hi": np.nan}, "at_most", 2.0) == "unresolved"
    assert tables.verdict({"lo": -0.8, "hi": 0.3}, "within_db", 1.0) == "held"
    assert tables.verdict({"lo": -1.6, "hi": -1.1}, "within_db", 1.0) == "missed"
    assert tables.verdict({"lo": -1.2, "hi": -0.4}, "within_db", 1.0) == "unresolved"
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
            # FaceCam* (the generic head): 1.5 dB behind FaceCam, where it puts the head
            star = dict(psnr=scores["FaceCam"]["psnr"] - 1.5 + rng.normal(0, 0.1), detect_rate=0.5)
            rows.append(base | dict(star, row="FaceCam*", centre_px=centre["FaceCam"]))
            rows.append(base | dict(scores["ground_truth"], row="ground_truth", centre_px=0.0))
    got = {e["key"]: e["verdict"] for e in tables.expectations(rows)}
    assert got == {
        "facecam_psnr": "held",
        "facecam_faces": "missed",
        "facecam_rot_err": "held",
        "facecam_growth": "held",
        "extrinsics_growth": "held",
        "plucker_growth": "unresolved",
        "told_close": "held",
        "facecam_placement": "held",  # both baselines further off at 0.5 and 2
        "facecam_star_close": "missed",  # 1.5 dB behind: outside 1 dB
    }
