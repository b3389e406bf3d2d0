"""Reading what a user types or points to, with bounds: memory follows the work, never a claim.

* :func:`read_json` and :func:`read_config` (YAML or JSON) refuse files over a size, trees nested
  deeper than ``MAX_DEPTH`` and trees that expand past ``MAX_NODES`` values (YAML aliases make an
  815-byte file grow without bound: counting every reference bounds that), each as one error
  naming the file.
* :func:`short` cuts a value echoed in an error message and :func:`error_line` the message a
  command prints, so that a 50 MB argument never fills a terminal.
* :func:`check_memory` refuses work whose arrays cannot fit in the memory this machine has free
  (``/proc/meminfo``), naming the largest value that would fit.

Used by every command of notebook 06 (``render``, ``demo``) and by ``evaluate``, ``train`` and
``train-mini``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

#: a trajectory, manifest or ``model_index.json`` larger than this is not one
MAX_JSON_BYTES = 16 * 2**20
#: a training configuration is a few dozen lines
MAX_CONFIG_BYTES = 2**20
MAX_DEPTH = 32
MAX_NODES = 200_000
#: the first line of an error message is cut here (a 50 MB argument must not fill a terminal)
MAX_ERROR_CHARS = 500
#: the share of the free memory one command may plan to use
MEMORY_SHARE = 0.5


def short(value, limit: int = 80) -> str:
    """``repr(value)``, cut to about ``limit`` characters with the full length said."""
    text = value if isinstance(value, str) else repr(value)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def error_line(e: BaseException) -> str:
    """``error: <message>``, its first line cut in the middle to ``MAX_ERROR_CHARS`` (further lines,
    a download help, kept when short)."""
    text = str(e) or type(e).__name__
    first, _, rest = text.partition("\n")
    if len(first) > MAX_ERROR_CHARS:  # keep the start (the input) and the end (the fix)
        half = (MAX_ERROR_CHARS - 40) // 2
        first = f"{first[:half]} [... {len(first) - 2 * half:,} characters ...] {first[-half:]}"
    if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in first:
        first = f"{first} ({short(str(e.filename))})"
    return f"error: {first}" + (f"\n{rest}" if rest and len(rest) < 2000 else "")


def check_tree(obj, what: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """ValueError unless ``obj`` (parsed JSON/YAML) is at most ``max_depth`` deep and at most
    ``max_nodes`` values once every shared reference (a YAML alias) is counted where it is used."""
    count, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            raise ValueError(f"{what} expands to more than {max_nodes:,} values (YAML aliases?); write it out plainly")
        if depth > max_depth:
            raise ValueError(f"{what} is nested more than {max_depth} levels deep; it cannot be a kit file")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for kv in node.items() for v in kv)
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)


def read_text(path, what: str = "text file", max_bytes: int = MAX_JSON_BYTES) -> str:
    """A text file's contents, bounded in size (a camera pose file is a few hundred kB)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{what} {path} is {size:,} bytes, more than a kit file holds ({max_bytes:,})")
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not a text file") from None


def parse_json(text: str, what: str):
    """Parsed JSON with :func:`check_tree`'s bounds; ValueError naming ``what`` otherwise."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested more than {MAX_DEPTH} levels deep; it cannot be a kit file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} is not valid JSON: {e}") from None
    check_tree(data, what)
    return data


def read_json(path, what: str = "JSON file", max_bytes: int = MAX_JSON_BYTES):
    """The parsed contents of a JSON file, bounded in size, depth and values."""
    return parse_json(read_text(path, what, max_bytes), f"{what} {path}")


def read_config(path, what: str = "configuration") -> dict:
    """A YAML (or, for ``.json``, JSON) mapping, bounded in size, depth and alias expansion."""
    path = Path(path)
    text = read_text(path, what, MAX_CONFIG_BYTES)
    if path.suffix == ".json":
        data = parse_json(text, f"{what} {path}")
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except RecursionError:
            raise ValueError(f"{what} {path} is nested too deeply to be a configuration") from None
        except yaml.YAMLError as e:
            first = str(e).strip().splitlines()[0]
            raise ValueError(f"{what} {path} is not valid YAML: {first}") from None
        check_tree(data, f"{what} {path}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} must be a mapping of settings (key: value), got a {type(data).__name__}")
    return data


def free_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable; all memory where unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(bytes_per_unit: int, units: int, what: str, unit: str, hint: str = "") -> None:
    """ValueError unless ``units`` x ``bytes_per_unit`` fits in ``MEMORY_SHARE`` of the free
    memory; the message names the largest ``units`` that fits."""
    budget = int(MEMORY_SHARE * free_memory())
    if units * bytes_per_unit > budget:
        fits = max(budget // max(bytes_per_unit, 1), 0)
        raise ValueError(
            f"{what} needs about {units * bytes_per_unit / 2**30:.1f} GB for {units:,} {unit}; this machine "
            f"has {budget / 2**30:.1f} GB to spare, enough for about {fits:,} {unit}{hint}"
        )
