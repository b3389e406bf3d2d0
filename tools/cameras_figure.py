"""The figure of docs/cameras.md: one camera's axes as the kit (OpenCV), OpenGL and Unreal name them.

    python tools/cameras_figure.py docs/cameras.png

The kit's frontal camera (``OrbitTrajectory``) and its frustum (``viz.frustum_lines``) beside the
generic head's landmarks, in the proxy-head world (+Z up, the head facing -Y).
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from facecam_kit.face.template import load_template  # noqa: E402
from facecam_kit.geometry.trajectory import OrbitTrajectory  # noqa: E402
from facecam_kit.viz import frustum_lines  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    out = p.parse_args().out
    cams = OrbitTrajectory((25, 25), (15, 15), num_frames=1).cameras()
    c, R = cams.centers[0], cams.R[0]  # rows of R: the camera's x, y, z axes in the world
    x, y, z = R
    triads = {  # name -> [(label, axis in the world)]
        "OpenCV: the kit, RealEstate10K": [("x right", x), ("y down", y), ("z forward", z)],
        "OpenGL: nerfstudio": [("x right", x), ("y up", -y), ("z back", -z)],
        "Unreal: ReCamMaster": [("Y right", x), ("Z up", -y), ("X forward", z)],
    }
    fig = plt.figure(figsize=(13, 4.6))
    head = load_template()[::3]
    colours = ["#d62728", "#2ca02c", "#1f77b4"]
    for k, (name, axes) in enumerate(triads.items()):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        ax.scatter(*head.T, s=1, c="0.6")
        ax.plot(*frustum_lines(cams, size=0.5).T, c="0.3", lw=1)
        for (label, a), col in zip(axes, colours):
            ax.quiver(*c, *(0.8 * a), color=col, lw=2.5)
            ax.text(*(c + 0.95 * a), label, color=col, fontsize=10, weight="bold")
        ax.set(xlabel="X", ylabel="Y", zlabel="Z")
        ax.set_title(name, fontsize=11)
        ax.set_box_aspect((1, 1.2, 0.8))
        ax.view_init(elev=20, azim=-135)
        ax.set_xlim(-0.8, 2.2), ax.set_ylim(-3.2, 0.4), ax.set_zlim(-0.6, 1.8)
    fig.suptitle("The same camera, named by three conventions (the head at the origin, +Z up, facing -Y)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
