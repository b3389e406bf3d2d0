"""The training-data strategies and datasets: each official rule pinned by a test (docs/official_behaviour.md, 8)."""

import shutil

import numpy as np
import pytest
import torch

from facecam_kit.data import augment
from facecam_kit.data import dataset as dataset_module
from facecam_kit.data.dataset import KIT_V1, MonocularDataset, StudioDataset, resolve_options
from facecam_kit.data.studio import load_capture, make_studio
from facecam_kit.face.landmarks import detect_landmarks
from facecam_kit.geometry.camera import intrinsics_from_fov, project_points
from facecam_kit.video import read_video, write_video


def test_warp_moves_landmarks_with_pixels(portrait, portrait_landmarks):
    clip, lm = portrait[None], portrait_landmarks[None, :, :2]
    for frames, lms in (augment.scale_augment(clip, lm, 1.2), augment.synthetic_pan(clip, lm, (0, 0), (-40, 25))):
        det = detect_landmarks(frames[0])[:, :2]
        assert np.linalg.norm(det - lms[0], axis=1).mean() < 2.5  # MediaPipe agrees with the transformed landmarks
    # a single bright pixel lands where its coordinate is mapped
    img = np.zeros((1, 40, 60, 3), np.uint8)
    img[0, 20, 30] = 255
    A = augment.similarity_matrices([1.5], [[3.0, -4.0]], 40, 60)
    out, p = augment.warp(img, np.array([[[30.5, 20.5]]]), A, fill=(0, 0, 0))
    y, x = np.unravel_index(out[0, ..., 0].argmax(), (40, 60))
    assert abs(x + 0.5 - p[0, 0, 0]) <= 1 and abs(y + 0.5 - p[0, 0, 1]) <= 1


def test_augmented_intrinsics_project_the_augmented_landmarks(template):
    K = intrinsics_from_fov(40, 480, 704)
    R, t = np.eye(3), np.array([0, 0, 2.7])
    uv = project_points(template, R, t, K)
    A = augment.similarity_matrices(np.linspace(1, 1.25, 3), np.linspace([0, 0], [30, -20], 3), 704, 480)
    _, lms = augment.warp(np.zeros((3, 704, 480, 3), np.uint8), np.repeat(uv[None], 3, 0), A)
    K2 = augment.adjust_intrinsics(np.repeat(K[None], 3, 0), A)
    for f in range(3):
        np.testing.assert_allclose(project_points(template, R, t, K2[f]), lms[f], atol=1e-9)


def test_zoom_and_pan_interpolate(portrait, portrait_landmarks):
    clip, lm = np.repeat(portrait[None], 5, 0), np.repeat(portrait_landmarks[None, :, :2], 5, 0)
    _, z = augment.synthetic_zoom(clip, lm, 1.0, 1.2)
    spread = [np.ptp(f[:, 0]) for f in z]
    np.testing.assert_allclose(np.array(spread) / spread[0], np.linspace(1, 1.2, 5), rtol=1e-9)
    _, p = augment.synthetic_pan(clip, lm, (0, 0), (40, 0))
    np.testing.assert_allclose((p - lm).mean(1)[:, 0], np.linspace(0, 40, 5))


def test_background_replacement_keeps_the_person(portrait):
    with augment.BackgroundReplacer() as bg:
        out = bg(portrait[None], (0, 255, 0))[0]
    assert (out[5, 5] == [0, 255, 0]).all() or out[5, 5, 1] > 200  # corner: background
    assert np.abs(out[120, 175].astype(int) - portrait[120, 175]).max() < 30  # face: kept


def test_stitch_plan():
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(200):
        plan = augment.stitch_plan(rng, 17, 4)
        clips = 1 + np.count_nonzero(np.diff(plan))
        counts.add(clips)
        assert len(plan) == 17 and clips <= 4 and plan.max() < 4
    assert counts == {1, 2, 3, 4}


def test_studio_dataset(tmp_path):
    make_studio(tmp_path, num_heads=1, num_cameras=3, num_frames=9, size=96, seed=1, progress=False)
    ds = StudioDataset(tmp_path, num_frames=5, samples_per_capture=3, seed=2)
    assert len(ds) == 3
    s = ds[1]
    assert s["source"].shape == s["target"].shape == s["condition"].shape == (5, 3, 96, 96)
    assert s["source"].dtype == torch.float32 and -1 <= s["target"].min() and s["target"].max() <= 1
    again = ds[1]
    assert all(torch.equal(s[k], again[k]) for k in s)  # deterministic per index
    # the condition was drawn from the target's own (transformed) landmarks: not blank
    assert (s["condition"] < 0.9).any()
    with pytest.raises(ValueError, match="4k\\+1"):
        StudioDataset(tmp_path, num_frames=6)
    with pytest.raises(ValueError, match="fewer than"):
        StudioDataset(tmp_path, num_frames=13)[0]
    with pytest.raises(ValueError, match="no studio captures"):
        StudioDataset(tmp_path / "head_000")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """One head, 4 cameras, 13 frames at 48 px, its white background repainted a colour (the fill rule)."""
    root = tmp_path_factory.mktemp("rules") / "studio"
    make_studio(root, num_heads=1, num_cameras=4, num_frames=13, size=48, seed=3, progress=False)
    for video in (root / "head_000").glob("cam_*.mp4"):
        frames = read_video(video)[0]
        frames[frames.min(-1) > 235] = BACKGROUND
        write_video(video, frames)
    return root


BACKGROUND = (40, 120, 200)


def undo(landmarks, A):
    """Landmarks (F, N, 2) moved back by the inverse of the similarities A (F, 3, 3)."""
    return augment.transform_landmarks(landmarks, np.linalg.inv(A))


def runs(plan) -> list[int]:
    """Lengths of the runs of equal values in a plan."""
    cuts = np.flatnonzero(np.diff(plan)) + 1
    return np.diff(np.r_[0, cuts, len(plan)]).tolist()


def test_anchor_condition_is_the_start_instant_moved_only_by_the_zoom_and_pan(studio):
    cap = load_capture(studio / "head_000")
    for condition in ("anchor", "per_frame"):
        ds = StudioDataset(studio, 9, 8, p_background=0, seed=1, condition=condition)
        spread = []
        for i in range(8):
            item = ds[i]
            lm = undo(item["condition_landmarks"].double().numpy(), item["warp"].numpy())
            plan, start = item["plan"].numpy(), int(item["start"])
            if condition == "anchor":  # the head at the clip's start instant, from each segment's camera
                np.testing.assert_allclose(lm, cap.landmarks2d[plan, start], atol=1e-3)
            spread += [np.abs(lm[plan == c] - lm[plan == c][0]).max() for c in np.unique(plan)]
        if condition == "anchor":
            assert max(spread) < 1e-3  # constant within each segment
        else:
            assert max(spread) > 1.0  # the head's motion is in the per-frame condition


def test_supersampled_condition_is_drawn_from_the_items_landmarks(studio):
    """The supersample rule reaches the drawing: the item's condition is its landmarks drawn at 4x
    and averaged down, the source and target untouched by it."""
    from facecam_kit.face.condition import draw_condition

    plain, smooth = (StudioDataset(studio, 9, 2, seed=4, supersample=k)[1] for k in (1, 4))
    for key in ("source", "target", "condition_landmarks"):
        torch.testing.assert_close(plain[key], smooth[key])
    lm, h = smooth["condition_landmarks"].numpy(), smooth["condition"].shape[-2]
    expected = dataset_module._to_tensor(draw_condition(lm, h, h, supersample=4))
    torch.testing.assert_close(smooth["condition"], expected)
    assert not torch.equal(plain["condition"], smooth["condition"])
    assert resolve_options("studio", {"supersample": 4}) == {"supersample": 4}


def test_equal_segments_official_lengths_and_latent_cuts():
    lengths = lambda starts, n: np.diff(np.r_[starts, n]).tolist()
    assert lengths(augment.equal_segments(81, 2, False), 81) == [41, 40]
    assert lengths(augment.equal_segments(81, 3, False), 81) == [28, 28, 25]
    assert lengths(augment.equal_segments(81, 4, False), 81) == [21, 21, 21, 18]
    assert lengths(augment.equal_segments(9, 4, False), 9) == [3, 3, 3]  # the 4th starts past the clip
    for n in (9, 17, 81):
        for k in (1, 2, 3, 4):
            starts = augment.equal_segments(n, k, True)
            assert (starts[1:] % 4 == 1).all()  # every cut on a latent-frame boundary (frames 4j + 1)
            official = augment.equal_segments(n, k, False)
            if len(starts) == len(official):
                assert np.abs(starts - official).max() <= 2  # the nearest boundary
    assert lengths(augment.equal_segments(81, 3, True), 81) == [29, 28, 24]
    # a VAE that keeps every frame (time / 1) has a boundary at every frame: the official cuts stay;
    # at Wan's grouping 5 frames have one boundary (frame 1), and every stitch is 1 + 4 frames
    for k in (1, 2, 3, 4):
        np.testing.assert_array_equal(augment.equal_segments(5, k, True, 1), augment.equal_segments(5, k, False))
    assert lengths(augment.equal_segments(5, 3, True, 1), 5) == [2, 2, 1]
    assert lengths(augment.equal_segments(5, 3, True), 5) == [1, 4]
    assert lengths(augment.equal_segments(9, 4, True, 2), 9) == [3, 4, 2]  # time / 2: cuts on odd frames (Wan: [5, 4])


def test_dataset_segments_follow_the_rule(studio):
    rng_runs = {}
    for segments in ("equal", "random"):
        ds = StudioDataset(studio, 9, 40, augment=False, seed=0, segments=segments)
        rng_runs[segments] = [runs(ds[i]["plan"].numpy()) for i in range(40)]
        clips = {len(r) for r in rng_runs[segments]}
        assert clips >= {1, 2}
    for r in rng_runs["equal"]:  # 9 frames: k = 1 -> 9; k = 2, 3, 4 -> 5 + 4 (cuts on frame 5)
        assert r in ([9], [5, 4])
    assert any(r not in ([9], [5, 4]) for r in rng_runs["random"])  # random cuts fall inside latent frames
    # official: k distinct target cameras, the source camera possibly among them
    ds = StudioDataset(studio, 9, 40, augment=False, seed=0, segments="equal", latent_cuts=False)
    plans = [ds[i]["plan"].numpy() for i in range(40)]
    assert {tuple(runs(p)) for p in plans} >= {(9,), (5, 4), (4, 4, 1), (3, 3, 3)}
    assert all(len(set(p)) == len(runs(p)) for p in plans)
    # a VAE that keeps every frame: 5-frame stitches cut where the official rule cuts
    ds = StudioDataset(studio, 5, 40, augment=False, seed=0, segments="equal", frames_per_latent=1)
    assert {tuple(runs(ds[i]["plan"].numpy())) for i in range(40)} == {(5,), (3, 2), (2, 2, 1)}


def test_same_camera_samples_are_the_source_video_under_the_target_zoom_and_pan(studio):
    plain = StudioDataset(studio, 9, 200, augment=False, seed=0)
    same = StudioDataset(studio, 9, 40, augment=False, seed=0, p_same_camera=1.0)
    for i in range(40):
        item = same[i]
        assert _same(item)
        torch.testing.assert_close(item["target"], item["source"])  # no zoom or pan: the very video
    # a share: about half the samples by the rule, and a quarter of the rest by chance (4 cameras, one clip)
    half = StudioDataset(studio, 9, 200, augment=False, seed=0, p_same_camera=0.5)
    assert 0.5 < np.mean([_same(half[i]) for i in range(200)]) < 0.8
    assert np.mean([_same(plain[i]) for i in range(200)]) < 0.3
    with pytest.raises(ValueError, match="p_same_camera must be a probability"):
        StudioDataset(studio, 9, 4, p_same_camera=1.5)


def _same(item) -> bool:
    """Every target segment filmed by the source camera."""
    return all(torch.allclose(R, item["source_R"]) for R in item["R"])


def test_zoom_pan_and_source_ranges_over_seeded_samples(studio):
    ds = StudioDataset(studio, 9, 300, p_background=0, seed=5)
    items = [ds[i] for i in range(300)]
    A = np.stack([it["warp"].numpy()[[0, -1]] for it in items])  # (300, 2, 3, 3): start and end
    A_src = np.stack([it["source_warp"].numpy() for it in items])
    centre = np.array([24.0, 24.0, 1.0])
    scale = A[..., 0, 0]
    assert 1.0 <= scale.min() < 1.01 and 1.24 < scale.max() <= 1.25  # U(1, 1.25), start and end
    assert abs(scale.mean() - 1.125) < 0.01
    assert (np.abs(scale[:, 0] - scale[:, 1]) > 1e-6).all()  # a zoom in every target
    offset = ((A @ centre)[..., :2] - 24) / 48  # where a face at the centre goes, of the frame side
    assert np.abs(offset).max() <= 0.125 and np.abs(offset).max() > 0.10  # (s - 1)(1/2 - pos): +-12.5%
    assert abs(offset.std() - 0.25 / 6) < 0.004  # std of U(0, .25) x U(-.5, .5)
    pan = np.abs(offset[:, 1] - offset[:, 0]).max(-1)
    assert (pan > 0).mean() == 1 and 0.04 < pan.mean() < 0.11  # a pan in every target
    s = A_src[:, 0, 0]
    assert 0.75 <= s.min() < 0.77 and 1.23 < s.max() <= 1.25 and abs(s.mean() - 1) < 0.02  # U(0.75, 1.25)
    pos = 0.5 - (A_src[:, :2, 2] - (24 - s[:, None] * 24)) / ((s[:, None] - 1) * 48)
    assert pos.min() > -1e-6 and pos.max() < 1 + 1e-6 and abs(pos.mean() - 0.5) < 0.05  # U(0, 1) of the margin
    assert pos.min() < 0.05 and pos.max() > 0.95
    # the kit's earlier: a centred source, a target zoomed out too
    old = StudioDataset(studio, 9, 300, p_background=0, seed=5, **KIT_V1)
    old_items = [old[i] for i in range(60)]
    old_src = np.stack([it["source_warp"].numpy() for it in old_items])
    np.testing.assert_allclose(old_src @ centre, np.repeat(centre[None], 60, 0), atol=1e-9)
    assert min(float(it["warp"][0, 0, 0]) for it in old_items) < 0.9


def test_padding_takes_the_background_colour(studio):
    for fill, colour in (("corners", BACKGROUND), ("white", (255, 255, 255))):
        ds = StudioDataset(studio, 9, 40, p_background=0, seed=2, fill=fill)
        item = next(ds[i] for i in range(40) if ds[i]["source_warp"][0, 0] < 0.85)  # a shrunk source
        src = ((item["source"][0].permute(1, 2, 0).numpy() + 1) * 127.5).round()
        A = item["source_warp"].numpy()
        lo, hi = A[:2, 2], A[:2, 2] + A[0, 0] * 48  # the pasted frame's box
        v, u = np.mgrid[:48, :48] + 0.5
        border = (u < lo[0] - 1) | (u > hi[0] + 1) | (v < lo[1] - 1) | (v > hi[1] + 1)
        assert border.sum() > 50
        assert np.abs(src[border] - colour).max() <= 12, fill  # H.264 moves the colour a little
        cond = ((item["condition"].permute(0, 2, 3, 1).numpy() + 1) * 127.5).round()
        assert (cond[:, :2, :2] == 255).all()  # the condition's canvas stays white


def test_intrinsics_reach_the_plucker_condition(studio):
    """The Plücker ray of a zoomed and panned target's pixel passes through the 3D point that pixel
    shows (the nose): the maps carry the augmented intrinsics."""
    from scipy.ndimage import map_coordinates

    from facecam_kit.geometry.camera import relative_pose
    from facecam_kit.train.cache import plucker_maps

    cap = load_capture(studio / "head_000")
    ds = StudioDataset(studio, 9, 12, p_background=0, seed=4, condition="per_frame")
    errors = []
    for i in range(12):
        item = ds[i]
        maps = plucker_maps(item).double().numpy()  # (6, f, 6, 6) at latent resolution (48 / 8)
        src_R, src_t = item["source_R"].numpy(), item["source_t"].numpy()
        for j, f in enumerate(range(0, 9, 4)):
            # the nose in the source camera's frame (where the maps live), and the target camera's centre there
            nose = src_R @ cap.landmarks3d[int(item["start"]) + f, 4] + src_t
            R, t = relative_pose(src_R, src_t, item["R"][f].numpy(), item["t"][f].numpy())
            centre = -R.T @ t
            uv = item["condition_landmarks"][f, 4].double().numpy() / 8 - 0.5  # in latent pixel-centre units
            d = np.array([map_coordinates(maps[3 + c, j], [[uv[1]], [uv[0]]], order=1)[0] for c in range(3)])
            cos = d @ (nose - centre) / np.linalg.norm(d) / np.linalg.norm(nose - centre)
            errors.append(np.degrees(np.arccos(min(cos, 1.0))))
    assert max(errors) < 0.5, errors  # a K without the zoom and pan misses by degrees (a pan of 6 px is ~4)


def test_extrinsics_get_no_zoom_or_pan(studio):
    """ReCamMaster's 12 numbers hold no intrinsics: its data keeps the camera's own pixels and K,
    while the samples (cameras, cuts, start) are the other kinds' samples."""
    cap = load_capture(studio / "head_000")
    plain = StudioDataset(studio, 9, 6, p_background=0, seed=7, **resolve_options("studio", {}, "landmarks"))
    ext = StudioDataset(studio, 9, 6, p_background=0, seed=7, **resolve_options("studio", {}, "extrinsics"))
    for i in range(6):
        a, b = plain[i], ext[i]
        assert torch.equal(a["plan"], b["plan"]) and int(a["start"]) == int(b["start"])
        np.testing.assert_allclose(b["K"].numpy(), cap.K[b["plan"].numpy()], atol=1e-12)
        np.testing.assert_allclose(b["warp"].numpy(), np.tile(np.eye(3), (9, 1, 1)), atol=1e-12)
        assert np.abs(a["K"].numpy() - b["K"].numpy()).max() > 0.1  # the others' K moves with the zoom
    # an explicit rule wins (FaceCam-mini v1 kept its zooms for every kind)
    assert resolve_options("studio", {"source_scale_range": [0.8, 1.0]}, "extrinsics")["source_scale_range"] == [0.8, 1]
    with pytest.raises(ValueError, match="unknown rule"):
        resolve_options("studio", {"segment": "equal"})
    with pytest.raises(ValueError, match="condition must be one of"):
        resolve_options("studio", {"condition": "first"})


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"latent_cuts": "yes"}, "latent_cuts must be true or false"),
        ({"source_scale_range": "ab"}, "source_scale_range must be"),
        ({"target_scale_range": [1.2, 1.0]}, "target_scale_range must be"),
        ({"p_background": 2}, "p_background must be a probability"),
        ({"max_clips": 0}, "max_clips must be a positive integer"),
        ({"frames_per_latent": 0}, "frames_per_latent must be a positive integer"),
        ({"fill": "black"}, "fill must be one of"),
        ({"supersample": 1.5}, "supersample must be an integer from 1 to 8"),
    ],
)
def test_bad_data_rules_are_one_line_naming_the_rule(rules, message):
    from facecam_kit.train.config import TrainConfig

    with pytest.raises(ValueError, match=f"data_options: {message}"):
        TrainConfig(data_options=rules)
    with pytest.raises(ValueError, match="height must be a positive multiple of 16"):
        resolve_options("monocular", {"height": 100})


def test_every_capture_stays_cached(studio, tmp_path, monkeypatch):
    """12 captures read in rotation: each loaded once (a cache of 8 reloaded every read)."""
    for i in range(12):
        shutil.copytree(studio / "head_000", tmp_path / f"head_{i:03d}")
    loads = []
    real = dataset_module.load_capture
    monkeypatch.setattr(dataset_module, "load_capture", lambda p: loads.append(p) or real(p))
    ds = StudioDataset(tmp_path, 5, 2, augment=False)
    for i in range(len(ds)):
        ds[i]
    assert len(loads) == 12


def test_monocular_dataset(tmp_path):
    from facecam_kit.assets import data_path

    shutil.copy(data_path("sample_clip.mp4"), tmp_path / "clip.mp4")
    ds = MonocularDataset(tmp_path, num_frames=9, samples_per_video=40, height=96, width=64)
    items = [ds[i] for i in range(40)]
    s = items[0]
    assert s["target"].shape == s["condition"].shape == s["source"].shape == (9, 3, 96, 64)
    # the condition: MediaPipe on frame 0 only, moved with the target
    first = undo(s["condition_landmarks"].double().numpy(), s["warp"].numpy())
    assert np.abs(first - first[0]).max() < 1e-3
    scales = np.array([[it["warp"][0, 0, 0], it["warp"][-1, 0, 0], it["source_warp"][0, 0]] for it in items])
    assert scales.min() >= 1 and scales.max() <= 1.5 and scales.max() > 1.4  # U(1, 1.5), source and target
    per_frame = MonocularDataset(tmp_path, 9, 2, height=96, width=64, condition="per_frame", start="random")[0]
    moved = undo(per_frame["condition_landmarks"].double().numpy(), per_frame["warp"].numpy())
    assert np.abs(moved - moved[0]).max() > 0.5  # the person moves in the sample clip
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos"):
        MonocularDataset(tmp_path / "empty")
