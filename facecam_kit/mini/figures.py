"""Figures of the mini experiment: training curves, scale curves, generated vs ground truth.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import numpy as np

from facecam_kit.viz import montage


def training_curves(provenance: dict):
    """Loss per logged step of the VAE and of every (arm, seed) network (matplotlib figure)."""
    import matplotlib.pyplot as plt

    fig, (ax_vae, ax_net) = plt.subplots(1, 2, figsize=(11, 3.4))
    loss = np.asarray(provenance["vae"]["loss"])
    k = max(1, len(loss) // 60)
    ax_vae.plot(np.arange(len(loss))[k - 1 :: k] + 1, loss[: len(loss) // k * k].reshape(-1, k).mean(1))
    ax_vae.set(title="mini VAE (L1 + KL)", xlabel="step", ylabel="loss")
    for run, record in provenance["unets"].items():
        h = record["history"]
        ax_net.plot([e["step"] for e in h], [e["loss"] for e in h], label=run, lw=1)
    ax_net.set(title="networks (clean-latent MSE, per 50 steps)", xlabel="step", yscale="log")
    ax_net.legend(fontsize=7)
    fig.tight_layout()
    return fig


def scale_curves(tables: dict, titles: dict | None = None, rows=None):
    """One panel per table (``experiment.scale_table`` or ``scale_growth`` output: {row: {scale:
    {"mean", "lo", "hi"}}}): each row's mean against the scene scale (log axis) with its 95% interval
    as error bars. titles: {table name: panel title}. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5.2 * len(tables), 3.6), squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items()):
        for i, row in enumerate(rows or table):
            if row not in table:
                continue
            scales = sorted(table[row])
            mean = np.array([table[row][s]["mean"] for s in scales])
            lo = np.array([table[row][s]["lo"] for s in scales])
            hi = np.array([table[row][s]["hi"] for s in scales])
            shift = np.exp((i - 2) * 0.012)  # rows side by side, not on top of each other
            ax.errorbar(np.array(scales) * shift, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=row)
        ax.set_xscale("log")
        ticks = sorted({s for row in table.values() for s in row})
        ax.set_xticks(ticks, [f"{s:g}" for s in ticks])
        ax.minorticks_off()
        ax.set(title=(titles or {}).get(name, name), xlabel="scene scale")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def side_by_side(scene, videos: dict, num: int = 5) -> tuple[np.ndarray, list[str]]:
    """Rows of ``num`` frames: source, ground-truth target, then each model's video for ``scene``.
    videos: {(kind, scene name): frames}. Returns the image and the row labels."""
    rows = [("source", scene.source), ("ground truth", scene.target)]
    rows += [(kind, v) for (kind, name), v in videos.items() if name == scene.name]
    return np.concatenate([montage(v, num) for _, v in rows], 0), [r[0] for r in rows]


def show_rows(image: np.ndarray, labels: list[str], title: str = ""):
    """Show a :func:`side_by_side` image with its row labels."""
    import matplotlib.pyplot as plt

    h = image.shape[0] // len(labels)
    fig, ax = plt.subplots(figsize=(image.shape[1] / 60, image.shape[0] / 60))
    ax.imshow(image)
    ax.set_yticks([h * (i + 0.5) for i in range(len(labels))], labels)
    ax.set_xticks([])
    ax.set_title(title)
    fig.tight_layout()
    return fig
