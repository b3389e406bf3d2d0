"""3D Gaussians and the standard 3D Gaussian Splatting PLY layout.

A PLY written by the reference 3DGS code (and FaceLift's ``gaussians.ply``) stores, per vertex,
``x y z`` (position), optionally ``nx ny nz``, ``f_dc_0..2`` (degree-0 spherical-harmonic colour),
``f_rest_*`` (higher SH bands), ``opacity`` (a logit), ``scale_0..2`` (log standard deviations)
and ``rot_0..3`` (a quaternion, w first, not necessarily normalised). :class:`Gaussians` holds
the activated values; :func:`read_ply` / :func:`write_ply` convert at the file edge.

Taught in notebook 05 (the proxy head).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SH_C0 = 0.28209479177387814  # the degree-0 spherical harmonic, 1 / (2 sqrt(pi))
_PLY_TYPES = {
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
    "uchar": "u1",
    "uint8": "u1",
    "char": "i1",
    "int8": "i1",
    "short": "i2",
    "ushort": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
}


@dataclass
class Gaussians:
    """N 3D Gaussians in world coordinates.

    means (N, 3); scales (N, 3) standard deviations; quats (N, 4) unit quaternions (w, x, y, z);
    opacities (N,) in [0, 1]; colors (N, 3) RGB in [0, 1] (view-independent, SH degree 0);
    sh_rest (N, K, 3) higher SH bands as read from a file (kept, not rendered).
    """

    means: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    opacities: np.ndarray
    colors: np.ndarray
    sh_rest: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.means)
        for name, shape in (
            ("means", (n, 3)),
            ("scales", (n, 3)),
            ("quats", (n, 4)),
            ("opacities", (n,)),
            ("colors", (n, 3)),
        ):
            a = np.asarray(getattr(self, name), dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"Gaussians.{name} must have shape {shape}, got {a.shape}")
            setattr(self, name, a)
        self.quats = self.quats / np.linalg.norm(self.quats, axis=1, keepdims=True)

    def __len__(self) -> int:
        return len(self.means)

    def covariances(self) -> np.ndarray:
        """World covariances R diag(s^2) R^T, (N, 3, 3)."""
        R = quat_to_matrix(self.quats)
        return (R * self.scales[:, None, :] ** 2) @ np.swapaxes(R, 1, 2)

    def transformed(self, R: np.ndarray, t: np.ndarray) -> Gaussians:
        """A rigidly moved copy: ``x -> R x + t``. R: (3, 3), t: (3,)."""
        return Gaussians(
            self.means @ R.T + t,
            self.scales,
            quat_multiply(matrix_to_quat(R), self.quats),
            self.opacities,
            self.colors,
            self.sh_rest,
        )

    @staticmethod
    def concatenate(parts: list[Gaussians]) -> Gaussians:
        return Gaussians(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("means", "scales", "quats", "opacities", "colors")
            )
        )


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of unit quaternions (N, 4), w first."""
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of one rotation matrix (3, 3)."""
    w = np.sqrt(max(0.0, 1 + np.trace(R))) / 2
    x = np.copysign(np.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = np.copysign(np.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = np.copysign(np.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    return np.array([w, x, y, z])


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b; a: (4,) or (N, 4), b: (N, 4)."""
    aw, ax, ay, az = np.moveaxis(np.broadcast_to(a, b.shape), -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1,
    )


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def write_ply(path, g: Gaussians) -> Path:
    """Write Gaussians in the standard 3DGS binary PLY layout."""
    n = len(g)
    rest = g.sh_rest if g.sh_rest is not None else np.zeros((n, 0, 3))
    # 3DGS stores f_rest channel-major: all coefficients of R, then G, then B
    rest_flat = np.swapaxes(rest, 1, 2).reshape(n, -1)
    columns = {
        "x": g.means[:, 0],
        "y": g.means[:, 1],
        "z": g.means[:, 2],
        "nx": np.zeros(n),
        "ny": np.zeros(n),
        "nz": np.zeros(n),
    }
    columns |= {f"f_dc_{i}": (g.colors[:, i] - 0.5) / SH_C0 for i in range(3)}
    columns |= {f"f_rest_{i}": rest_flat[:, i] for i in range(rest_flat.shape[1])}
    columns["opacity"] = _logit(g.opacities)
    columns |= {f"scale_{i}": np.log(g.scales[:, i]) for i in range(3)}
    columns |= {f"rot_{i}": g.quats[:, i] for i in range(4)}
    data = np.empty(n, dtype=[(k, "<f4") for k in columns])
    for k, v in columns.items():
        data[k] = v
    properties = "".join(f"property float {k}\n" for k in columns)
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {n}\n{properties}end_header\n"
    path = Path(path)
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(data.tobytes())
    return path


def read_ply(path) -> Gaussians:
    """Read a 3DGS PLY (binary little-endian, as the reference code writes it).

    Raises FileNotFoundError / ValueError naming the file and what is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Gaussian PLY not found: {path}")
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise ValueError(f"{path} is not a PLY file")
        fmt, n, props = None, None, []
        while True:
            line = f.readline()
            if not line:
                raise ValueError(f"{path}: PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] in ("comment", "obj_info"):
                continue
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                if words[1] != "vertex" or n is not None:
                    raise ValueError(f"{path}: only a single 'vertex' element is supported")
                n = int(words[2])
            elif words[0] == "property":
                if words[1] == "list" or words[1] not in _PLY_TYPES:
                    raise ValueError(f"{path}: unsupported PLY property {' '.join(words[1:])!r}")
                props.append((words[2], "<" + _PLY_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        if fmt != "binary_little_endian":
            raise ValueError(f"{path}: PLY format {fmt!r} is not supported; 3DGS files are binary_little_endian")
        if n is None:
            raise ValueError(f"{path}: PLY header declares no 'element vertex'")
        body = f.read()
    item = np.dtype(props).itemsize
    if len(body) < n * item:
        raise ValueError(
            f"{path} is truncated: its header declares {n} vertices, the file holds {len(body) // item} "
            f"({len(body)} of {n * item} data bytes); export or copy it again"
        )
    data = np.frombuffer(body, dtype=props, count=n)
    names = set(data.dtype.names)
    need = [
        "x",
        "y",
        "z",
        "f_dc_0",
        "f_dc_1",
        "f_dc_2",
        "opacity",
        "scale_0",
        "scale_1",
        "scale_2",
        "rot_0",
        "rot_1",
        "rot_2",
        "rot_3",
    ]
    missing = [k for k in need if k not in names]
    if missing:
        raise ValueError(f"{path} is not in the 3D Gaussian Splatting layout: missing {missing}")
    col = lambda *ks: np.stack([data[k].astype(np.float64) for k in ks], -1)
    bad = ~np.all([np.isfinite(data[k]) for k in need], axis=0)
    if bad.any():
        raise ValueError(
            f"{path}: {bad.sum()} of {n} vertices hold NaN or infinite values (first: vertex {np.argmax(bad)}); "
            f"the file is damaged or was exported from a diverged optimisation: drop those vertices or re-export"
        )
    rest_keys = sorted((k for k in names if k.startswith("f_rest_")), key=lambda k: int(k[7:]))
    rest = col(*rest_keys).reshape(n, 3, -1).swapaxes(1, 2) if rest_keys else None
    return Gaussians(
        col("x", "y", "z"),
        np.exp(col("scale_0", "scale_1", "scale_2")),
        col("rot_0", "rot_1", "rot_2", "rot_3"),
        1 / (1 + np.exp(-data["opacity"].astype(np.float64))),
        np.clip(0.5 + SH_C0 * col("f_dc_0", "f_dc_1", "f_dc_2"), 0, 1),
        rest,
    )
