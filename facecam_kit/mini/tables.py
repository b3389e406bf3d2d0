"""The scale experiment's tables: per-head means, scale tables with paired bootstrap intervals,
growth with the scale, and the issue's expectations judged by their intervals.

Every function reads the per-scene rows :func:`facecam_kit.mini.experiment.run_scale_experiment`
writes (``results.json``): each head's scenes (and seeds) are averaged first, intervals are paired
bootstraps over heads (:mod:`facecam_kit.evaluation.stats`).

Taught in notebook 09 (FaceCam-mini, sections 6-10).
"""

from __future__ import annotations

import numpy as np


def head_means(results: list[dict], metric: str, setting: str = "sweep") -> dict:
    """{(row, scale): {head: mean of ``metric``}} over the rows of ``setting``: each head's scenes and
    seeds averaged first (``evaluation.stats.per_item_means``), the unit every interval resamples."""
    from facecam_kit.evaluation.stats import per_item_means

    cells = {}
    for r in results:
        if r["setting"] == setting:
            cells.setdefault((r["row"], r["scale"]), []).append(r)
    return {k: dict(zip(*per_item_means([r["head"] for r in rs], [r[metric] for r in rs]))) for k, rs in cells.items()}


def scale_table(results: list[dict], metric: str, baseline: str = "FaceCam", setting: str = "sweep") -> dict:
    """Per row and scale: the mean of ``metric`` over held-out heads (:func:`head_means`) with a
    paired bootstrap 95% interval, and the gap to ``baseline`` paired by head (row minus baseline).
    Returns {row: {scale: {"mean", "lo", "hi", "n", "gap": {...}}}}."""
    from facecam_kit.evaluation.stats import paired_bootstrap

    means = head_means(results, metric, setting)
    table = {}
    for row, scale in sorted(means):
        mine, base = means[(row, scale)], means.get((baseline, scale), {})
        heads = sorted(set(mine) & set(base))
        entry = {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": len(mine)}
        if len(mine) >= 2:
            entry |= paired_bootstrap(np.array(list(mine.values())))
        if row != baseline and len(heads) >= 2:
            entry["gap"] = paired_bootstrap(np.array([mine[h] for h in heads]), np.array([base[h] for h in heads]))
        table.setdefault(row, {})[scale] = entry
    return table


def scale_growth(results: list[dict], metric: str = "centre_px", reference: float = 1.0, setting: str = "sweep"):
    """How a row's error grows away from the ``reference`` scale: per row and scale, the ratio of its
    mean ``metric`` over held-out heads at that scale to its mean at the reference, paired by head,
    with a bootstrap 95% interval (``evaluation.stats.ratio_bootstrap``; 1: unchanged). Returns
    {row: {scale: {"mean", "lo", "hi", "n", "resolved"}}}; a cell without 2 heads is NaN."""
    from facecam_kit.evaluation.stats import ratio_bootstrap

    means = head_means(results, metric, setting)
    out = {}
    for row, scale in sorted(means):
        at, ref = means[(row, scale)], means.get((row, reference), {})
        heads = sorted(set(at) & set(ref))
        entry = {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": len(heads), "resolved": False}
        if len(heads) >= 2 and np.mean([ref[h] for h in heads]) > 0:
            entry = ratio_bootstrap(np.array([at[h] for h in heads]), np.array([ref[h] for h in heads]))
        out.setdefault(row, {})[scale] = entry
    return out


def interval(entry: dict, digits: int = 2) -> str:
    """A table cell: ``mean [lo, hi]`` (n/a when the mean is not finite)."""
    if not np.isfinite(entry.get("mean", np.nan)):
        return "n/a"
    return f"{entry['mean']:.{digits}f} [{entry['lo']:.{digits}f}, {entry['hi']:.{digits}f}]"


def text_table(results: list[dict], metrics, rows=None, scale: float = 1.0, setting: str = "sweep") -> str:
    """A fixed-width table of :func:`scale_table` cells at one ``scale`` of ``setting``: one line per
    row (all rows and controls by default), one ``mean [lo, hi]`` column per metric."""
    tables = {m: scale_table(results, m, setting=setting) for m in metrics}
    rows = rows or list(dict.fromkeys(r["row"] for r in results if r["setting"] == setting))
    width = 22
    lines = [f"{'':16s}" + "".join(f"{m:>{width}s}" for m in metrics)]
    for row in rows:
        cells = [interval(tables[m].get(row, {}).get(scale, {})) for m in metrics]
        lines.append(f"{row:16s}" + "".join(f"{c:>{width}s}" for c in cells))
    return "\n".join(lines)


#: the issue's expectations (issue 20), each a bound on an interval: key -> (text, metric, kind, bound)
EXPECTATIONS = {
    "facecam_psnr": ("FaceCam at scale 1: PSNR >= 22 dB", "psnr", "at_least", 22.0),
    "facecam_faces": ("FaceCam at scale 1: faces detected in >= 80% of frames", "detect_rate", "at_least", 0.8),
    "facecam_rot_err": ("FaceCam at scale 1: RotErr <= 2x the ground truth's", "rot_err_deg", "at_most", 2.0),
    "facecam_growth": ("FaceCam: centre error at 0.5 and 2 <= 1.5x its scale-1 value", "centre_px", "at_most", 1.5),
    "extrinsics_growth": ("extrinsics: centre error at 0.5 and 2 >= 2x scale 1's", "centre_px", "at_least", 2.0),
    "plucker_growth": ("Plücker: centre error at 0.5 and 2 >= 2x scale 1's", "centre_px", "at_least", 2.0),
    "told_close": ("extrinsics told the scale: centre error within 1.5x of FaceCam's", "centre_px", "within", 1.5),
    # issue 36's, written before its models trained
    "facecam_placement": (
        "FaceCam ahead of extrinsics and Plücker rays on head placement at 0.5 and 2 (centre gap > 0)",
        "centre_px",
        "at_least",
        0.0,
    ),
    "facecam_star_close": ("FaceCam* within 1 dB of FaceCam at scale 1 (PSNR gap)", "psnr", "within_db", 1.0),
}


def verdict(entry: dict, kind: str, bound: float) -> str:
    """Whether an interval (``lo``, ``hi``) meets a bound: "held" when all of it does, "missed" when
    none of it does, "unresolved" when it straddles the bound. ``kind``: at_least | at_most |
    within (a ratio within [1 / bound, bound]) | within_db (a difference within [-bound, bound])."""
    lo, hi = entry["lo"], entry["hi"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unresolved"
    if kind == "within":
        inside, outside = 1 / bound <= lo and hi <= bound, hi < 1 / bound or lo > bound
    elif kind == "within_db":
        inside, outside = -bound <= lo and hi <= bound, hi < -bound or lo > bound
    elif kind in ("at_least", "at_most"):
        inside = lo >= bound if kind == "at_least" else hi <= bound
        outside = hi < bound if kind == "at_least" else lo > bound
    else:
        raise ValueError(f"kind must be at_least, at_most, within or within_db, got {kind!r}")
    return "held" if inside else "missed" if outside else "unresolved"


def expectations(results: list[dict], ends=(0.5, 2.0)) -> list[dict]:
    """Each of :data:`EXPECTATIONS` against the sweep's rows, as intervals over held-out heads: the
    scale-1 means of FaceCam, its RotErr as a ratio to the ground truth's (paired by head), the
    growth of each row's centre error at the ``ends`` of the sweep (:func:`scale_growth`; a growth
    expectation holds when it holds at both ends, and is missed when it is missed at one), and the
    told extrinsic model's centre error over the whole sweep as a ratio to FaceCam's; issue 36's: the
    extrinsic and Plücker rows' centre gaps to FaceCam at the ``ends`` (held when every interval is
    above 0), and FaceCam*'s PSNR gap to FaceCam at scale 1. Returns one
    dict per expectation: ``key``, ``text``, ``cells`` ({where: interval entry}) and ``verdict``."""
    from facecam_kit.evaluation.stats import paired_bootstrap, ratio_bootstrap

    def paired_ratio(a: dict, b: dict) -> dict:
        heads = sorted(set(a) & set(b))
        if len(heads) < 2:
            return {"mean": np.nan, "lo": np.nan, "hi": np.nan, "n": len(heads)}
        return ratio_bootstrap(np.array([a[h] for h in heads]), np.array([b[h] for h in heads]))

    growth = scale_growth(results, "centre_px")
    out = []
    for key, (text, metric, kind, bound) in EXPECTATIONS.items():
        means = head_means(results, metric)
        if key in ("facecam_psnr", "facecam_faces"):
            values = list(means.get(("FaceCam", 1.0), {}).values())
            missing = {"mean": np.nan, "lo": np.nan, "hi": np.nan, "n": len(values)}
            cells = {"scale 1": paired_bootstrap(np.array(values)) if len(values) >= 2 else missing}
        elif key == "facecam_rot_err":
            cells = {"scale 1": paired_ratio(means.get(("FaceCam", 1.0), {}), means.get(("ground_truth", 1.0), {}))}
        elif key == "facecam_placement":
            table = scale_table(results, "centre_px")
            missing = {"lo": np.nan, "hi": np.nan}
            cells = {
                f"{row} x{s:g}": table.get(row, {}).get(s, {}).get("gap", missing)
                for row in ("extrinsics", "plucker")
                for s in ends
            }
        elif key == "facecam_star_close":
            cells = {
                "scale 1": scale_table(results, "psnr")
                .get("FaceCam*", {})
                .get(1.0, {})
                .get("gap", {"lo": np.nan, "hi": np.nan})
            }
        elif key.endswith("_growth"):
            row = {"facecam": "FaceCam"}.get(key.split("_")[0], key.split("_")[0])
            cells = {f"scale {s:g}": growth.get(row, {}).get(s, {"lo": np.nan, "hi": np.nan}) for s in ends}
        else:  # told_close: each head's centre error averaged over the scales of the sweep
            pooled = {}
            for row in ("extrinsics_told", "FaceCam"):
                cells = [by_head for (r, _), by_head in means.items() if r == row]
                heads = set().union(*cells)
                pooled[row] = {h: float(np.mean([c[h] for c in cells if h in c])) for h in heads}
            cells = {"sweep": paired_ratio(pooled["extrinsics_told"], pooled["FaceCam"])}
        verdicts = [verdict(c, kind, bound) for c in cells.values()]
        overall = "missed" if "missed" in verdicts else "held" if set(verdicts) == {"held"} else "unresolved"
        out.append({"key": key, "text": text, "cells": cells, "verdict": overall})
    return out
