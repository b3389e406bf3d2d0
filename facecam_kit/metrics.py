"""Key numbers of a notebook run, recorded in ``OUTPUT_DIR/metrics.json`` for tests to assert.

Every notebook records its key numbers with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def record_metrics(output_dir, **values) -> dict:
    """Merge ``values`` into ``output_dir/metrics.json`` (written atomically); returns all metrics."""
    path = Path(output_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = json.loads(path.read_text()) if path.exists() else {}
    for k, v in values.items():
        metrics[k] = v.item() if isinstance(v, np.generic) else v
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return metrics
