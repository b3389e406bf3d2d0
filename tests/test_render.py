import numpy as np
import pytest
import torch

from facecam_kit.evaluation.fidelity import psnr
from facecam_kit.geometry.camera import orbit_cameras
from facecam_kit.geometry.trajectory import OrbitTrajectory
from facecam_kit.proxy.gaussians import Gaussians, read_ply, write_ply
from facecam_kit.proxy.head import make_proxy_head
from facecam_kit.proxy.rasterise import _render_cpu, available_backends, render_gaussians, render_video, resolve_backend

K = np.array([[200.0, 0, 32], [0, 200.0, 24], [0, 0, 1]])


def one(mean=(0, 0, 2.0), scale=0.02, opacity=0.8, color=(1.0, 0, 0)):
    return Gaussians(
        np.array([mean]), np.full((1, 3), scale), np.array([[1.0, 0, 0, 0]]), np.array([opacity]), np.array([color])
    )


def test_single_gaussian_centre_footprint_and_colour():
    img = render_gaussians(one(mean=(0.05, -0.02, 2.0)), np.eye(3), np.zeros(3), K, 64, 48, backend="cpu").numpy()
    u, v = 200 * 0.05 / 2 + 32, 200 * -0.02 / 2 + 24  # projected centre: (37, 22)
    red = 1 - img[..., 1]  # alpha, as white turns red
    ys, xs = np.nonzero(red > 0)
    centroid = (np.sum(xs * red[ys, xs]) / red[ys, xs].sum() + 0.5, np.sum(ys * red[ys, xs]) / red[ys, xs].sum() + 0.5)
    np.testing.assert_allclose(centroid, (u, v), atol=1e-3)
    # the 2D covariance is (f s / z)^2 + 0.3 per axis; alpha at a pixel follows the Gaussian
    var = (200 * 0.02 / 2) ** 2 + 0.3
    px, py = 37, 22  # pixel centre (37.5, 22.5): offset (0.5, 0.5) from the mean
    expected = 0.8 * np.exp(-0.5 * (0.25 + 0.25) / var)
    assert red[py, px] == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(img[py, px], [1, 1 - expected, 1 - expected], atol=1e-5)
    # the footprint ends where alpha drops below 1/255
    r = np.sqrt(2 * np.log(0.8 * 255) * var)
    assert (np.hypot(xs + 0.5 - u, ys + 0.5 - v) <= r + 1e-6).all() and np.hypot(
        xs + 0.5 - u, ys + 0.5 - v
    ).max() > r - 1.5
    assert img[0, 0].tolist() == [1, 1, 1]  # white background


def test_depth_order_and_occlusion():
    front = one(mean=(0, 0, 1.0), scale=0.02, opacity=0.999, color=(0, 0, 1.0))
    back = one(mean=(0, 0, 3.0), scale=0.2, opacity=0.999, color=(1.0, 0, 0))
    for g in (Gaussians.concatenate([front, back]), Gaussians.concatenate([back, front])):
        img = render_gaussians(g, np.eye(3), np.zeros(3), K, 64, 48, backend="cpu").numpy()
        np.testing.assert_allclose(img[24, 32], [0, 0, 1], atol=0.02)  # the near blue one wins
        assert img[24, 45, 0] > 0.95 and img[24, 45, 2] < 0.5  # the far red one shows beside it


def test_compositing_stops_at_transmittance_1e4_across_chunks():
    # three opaque Gaussians on one pixel centre (32.5, 24.5), near to far: blue, green, red
    stack = Gaussians.concatenate(
        [
            one(mean=(0.5 * z / 200, 0.5 * z / 200, z), opacity=1.0, color=c)
            for z, c in ((1.0, (0, 0, 1.0)), (2.0, (0, 1.0, 0)), (3.0, (1.0, 0, 0)))
        ]
    )
    # alpha is capped at 0.999; after blue T = 1e-3, and green would take it to 1e-6 < 1e-4,
    # so the rasteriser stops before green: 0.999 blue + 1e-3 white
    for chunk in (1, 2, 4096):  # Gaussians split over chunks, or all in one
        img = _render_cpu(stack, np.eye(3), np.zeros(3), K, 64, 48, (1.0, 1.0, 1.0), chunk=chunk).numpy()
        np.testing.assert_allclose(img[24, 32], [0.001, 0.001, 1.0], atol=1e-6)


def test_chunked_compositing_matches_one_pass():
    head = make_proxy_head(density=0.3)
    cams = orbit_cameras([-40, 35], [15, -20], [35, 50])
    K2 = cams.intrinsics(160, 160)
    for i in range(len(cams)):
        a, b = (
            _render_cpu(head.gaussians, cams.R[i], cams.t[i], K2[i], 160, 160, (1.0, 1.0, 1.0), chunk=c)
            for c in (64, 10**6)
        )
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_behind_camera_is_invisible_and_anisotropy():
    assert (render_gaussians(one(mean=(0, 0, -2.0)), np.eye(3), np.zeros(3), K, 64, 48).numpy() == 1).all()
    g = Gaussians(
        np.array([[0, 0, 2.0]]),
        np.array([[0.1, 0.01, 0.01]]),
        np.array([[1.0, 0, 0, 0]]),
        np.array([0.9]),
        np.array([[0, 0, 0.0]]),
    )
    dark = render_gaussians(g, np.eye(3), np.zeros(3), K, 64, 48).numpy()[..., 0] < 0.5
    ys, xs = np.nonzero(dark)
    assert np.ptp(xs) > 3 * np.ptp(ys)  # stretched along x
    # a 90 degree turn about z stretches it along y instead
    q = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    g.quats = q[None]
    dark = render_gaussians(g, np.eye(3), np.zeros(3), K, 64, 48).numpy()[..., 0] < 0.5
    ys, xs = np.nonzero(dark)
    assert np.ptp(ys) > 3 * np.ptp(xs)


def test_render_video_pads_like_the_official(tmp_path):
    frames = render_video(
        one(mean=(0, 0, 0), scale=0.2), OrbitTrajectory(num_frames=1).cameras(), 704, 480, backend="cpu", progress=False
    )
    assert frames.shape == (1, 704, 480, 3) and frames.dtype == np.uint8
    assert (frames[0, 480:] == 255).all() and frames[0, 240, 240, 1] < 100


def test_ply_roundtrip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4))
    g = Gaussians(
        rng.normal(size=(50, 3)),
        rng.uniform(0.01, 0.1, (50, 3)),
        q,
        rng.uniform(0.1, 0.9, 50),
        rng.uniform(0, 1, (50, 3)),
        sh_rest=rng.normal(size=(50, 15, 3)),
    )
    back = read_ply(write_ply(tmp_path / "g.ply", g))
    for f in ("means", "scales", "quats", "opacities", "colors", "sh_rest"):
        np.testing.assert_allclose(getattr(back, f), getattr(g, f), rtol=1e-5, atol=1e-6)
    header = (tmp_path / "g.ply").read_bytes()[:2000].decode("ascii", "replace")
    for key in ("property float x", "f_dc_0", "f_rest_44", "opacity", "scale_2", "rot_3"):
        assert key in header
    (tmp_path / "bad.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n" + bytes(4)
    )
    with pytest.raises(ValueError, match="missing"):
        read_ply(tmp_path / "bad.ply")
    with pytest.raises(FileNotFoundError, match="gaussians.ply"):
        read_ply(tmp_path / "gaussians.ply")


@pytest.mark.skipif("gsplat" not in available_backends(), reason="gsplat parity needs a CUDA GPU")
def test_gsplat_matches_cpu():
    g = make_proxy_head(density=0.3).gaussians
    cams = orbit_cameras([-30, 0, 30], [10, 0, -10], 40)
    Ks = cams.intrinsics(480, 480)
    for i in range(3):
        a = render_gaussians(g, cams.R[i], cams.t[i], Ks[i], 480, 480, backend="gsplat")
        b = render_gaussians(g, cams.R[i], cams.t[i], Ks[i], 480, 480, backend="cpu")
        assert psnr(a.cpu().numpy(), b.cpu().numpy()) >= 35  # float images: data range 1


def test_backend_errors():
    with pytest.raises(ValueError, match="backend"):
        render_gaussians(one(), np.eye(3), np.zeros(3), K, 8, 8, backend="opengl")
    if "gsplat" not in available_backends():
        with pytest.raises(ValueError, match="CUDA"):
            render_gaussians(one(), np.eye(3), np.zeros(3), K, 8, 8, backend="gsplat")


def test_auto_resolves_to_the_backend_that_renders():
    assert resolve_backend("auto") == ("gsplat" if torch.cuda.is_available() else "cpu")
    assert resolve_backend("cpu") == "cpu"
