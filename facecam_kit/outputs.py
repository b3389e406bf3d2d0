"""Where the kit writes: output folders checked before work, files written as a set, and nothing
deleted or overwritten that the kit did not write.

Every command follows one rule (README, "What every command promises"):

* :func:`check_writable_folder` before any heavy work: the folder is (or can become) a folder we
  can write in; a file, a symlink loop or a read-only place is one error naming it.
* :class:`OutputSet` writes a run's files into a hidden folder inside ``out`` and moves them in
  together with ``<name>_run.json``. That record lists each file with its size and modification
  time; the next run of the same name replaces exactly the files its record lists and that are
  unchanged since. A file of the same name that the kit did not write (a user's ``holiday.mp4``)
  is never replaced: the run is refused before it starts.
* The hidden folder is owned through a lock held open for the run (``fcntl.flock``), not through a
  process id, so two runs in separate PID namespaces (two containers sharing a folder) never take
  each other's folder for a killed run's leftovers.
* :func:`check_own_folder` guards a folder that a command fills whole (a training run, FaceCam-mini's
  export): it must be missing, empty, or marked as the kit's own by ``marker``.

Used by every job of notebook 06 (``render``, ``demo``) and by ``evaluate``, ``train`` and
``train-mini``.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

#: the longest file name (bytes) that Linux file systems allow
NAME_MAX = 255


def _loop_or_broken(path: Path) -> bool:
    """True for a symlink whose target is missing or loops (``exists()`` hides both)."""
    try:
        path.stat()
    except OSError as e:
        return path.is_symlink() or e.errno == errno.ELOOP
    return False


def check_writable_folder(out, flag: str = "--out") -> Path:
    """``out`` as a Path, or ValueError unless it is (or can become) a folder we can write in.

    Writes nothing (a probe file is created and removed in the nearest existing ancestor).
    """
    out = Path(out)
    for p in (out, *out.parents):
        if _loop_or_broken(p):
            raise ValueError(f"{flag} {out}: {p} is a broken symbolic link or a symlink loop; choose a real folder")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{flag} {out} is a file, not a folder; choose a folder for the outputs")
    probe = out
    while not probe.exists():  # the nearest existing ancestor must let us create the rest
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{flag} {out} cannot be created: {probe} is a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".facecam-write-test-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ValueError(f"{flag} {out} is not writable ({probe}: {e.strerror}); choose another folder") from None
    return out


def write_text_file(path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all (through ``.<name>.partial`` beside it); a
    full disk is an OSError naming the file and the free space, not a bare ``[Errno 28]``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free if path.parent.is_dir() else 0
        raise OSError(
            f"could not write {path}: {e.strerror or e}; is the disk full? {free / 2**20:,.0f} MB free in {path.parent}"
        ) from None
    return path


def check_own_folder(folder, marker: str, flag: str, what: str, is_marker=None) -> Path:
    """ValueError unless ``folder`` is missing, empty, or holds ``marker`` (the kit's own earlier
    ``what``; ``is_marker(path)``, when given, tells a marker of a common name such as
    ``report.json`` from a user's file of that name); then checked writable. The kit fills such a
    folder whole, so it never adopts a user's folder (``--out ~/thesis``, ``--out ..``)."""
    folder = check_writable_folder(folder, flag)
    mark = folder / marker
    if folder.is_dir() and any(folder.iterdir()) and not (mark.is_file() and (is_marker is None or is_marker(mark))):
        holds = f"a {marker} the kit did not write" if mark.is_file() else f"no {marker}"
        raise ValueError(
            f"{flag} {folder} is not empty and holds {holds}, so it is not an earlier {what} of the kit; "
            f"the kit writes only into a new or empty folder, or its own: choose another {flag}"
        )
    return folder


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _lock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its exclusive lock, or None when another run holds it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def owned_files(out, name: str) -> set[str]:
    """The files of ``out`` that the kit's previous run of ``name`` wrote and that nobody changed
    since: those its ``<name>_run.json`` lists with the same size and modification time (records
    of older kits, without sizes, list names only), and the record itself."""
    out, run = Path(out), f"{name}_run.json"
    try:
        record = json.loads((out / run).read_text())
    except (OSError, ValueError, RecursionError):
        return set()
    if not isinstance(record, dict) or not isinstance(record.get("files"), list) or "job" not in record:
        return set()  # not a run record of the kit
    written = record.get("written")
    owned = {run}
    for f in record["files"]:
        if not isinstance(f, str) or "/" in f or not f.startswith(name) or not (out / f).is_file():
            continue
        if not isinstance(written, dict) or written.get(f) == _stamp(out / f):
            owned.add(f)
    return owned


class OutputSet:
    """The files of one run, named ``<name>*``: written into a hidden folder inside ``out``, moved
    into ``out`` together by :meth:`commit` with ``<name>_run.json``, replacing the previous set of
    that name (only what its record lists). ``files``: the names the run will write, checked
    against what ``out`` holds at construction, before any work. Leaving the ``with`` block without
    a commit (an error, Ctrl-C, SIGTERM) deletes the hidden folder and any folder it created.
    Leftovers of killed runs are deleted on entry.
    """

    def __init__(self, out, name: str, files=(), flag: str = "--out"):
        self.out, self.name, self.flag = check_writable_folder(out, flag), name, flag
        self.files = list(files)
        self.check(self.files)
        self._created: list[Path] = []
        self.tmp: Path | None = None
        self._fd: int | None = None

    def check(self, files) -> None:
        """ValueError if writing ``files`` (and the run record) would replace a file the kit did not
        write, or if a name is longer than a file system allows (found only at the end, as Errno 36)."""
        hidden = f".{self.name}.partial-{'0' * 16}"  # the hidden folder's name (__enter__)
        for f in [*files, f"{self.name}_run.json", hidden]:
            if len(os.fsencode(f)) > NAME_MAX:
                raise ValueError(
                    f"--name {self.name[:40]}... ({len(self.name)} characters) makes the file name {f[:40]}... "
                    f"{len(os.fsencode(f))} bytes long, more than the {NAME_MAX} a file system allows: "
                    "choose a shorter --name"
                )
        owned = owned_files(self.out, self.name)
        for f in [*files, f"{self.name}_run.json"]:
            if (self.out / f).exists() and f not in owned:
                raise ValueError(
                    f"{self.flag} {self.out} already holds {f}, which the kit did not write (it is not in an "
                    f"unchanged {self.name}_run.json): move it away, or choose another --name or {self.flag}"
                )

    def __enter__(self) -> OutputSet:
        missing = [p for p in [self.out, *self.out.parents] if not p.exists()]
        self.out.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first: removed in this order when the run fails
        self._clean_leftovers()
        # locked under a name the cleaner ignores, then renamed: no run ever sees it unlocked
        new = Path(tempfile.mkdtemp(prefix=".facecam-new-", dir=self.out))
        self._fd = _lock(new)
        self.tmp = self.out / f".{self.name}.partial-{secrets.token_hex(8)}"
        new.rename(self.tmp)
        return self

    def _clean_leftovers(self) -> None:
        for p in self.out.glob(f".{glob.escape(self.name)}*.partial*"):
            if p.is_dir() and not p.is_symlink():
                fd = _lock(p)
                if fd is None:
                    continue  # another run, still going (whatever its PID namespace)
                shutil.rmtree(p, ignore_errors=True)
                os.close(fd)
            elif p.is_file() or p.is_symlink():
                p.unlink(missing_ok=True)

    def path(self, filename: str) -> Path:
        """Where to write ``filename`` (in the hidden folder until :meth:`commit`)."""
        return self.tmp / filename

    def commit(self, summary: dict) -> list[Path]:
        """Move the set into ``out`` with ``<name>_run.json`` (``summary`` plus the file list)."""
        run = f"{self.name}_run.json"
        files = sorted(p.name for p in self.tmp.iterdir() if p.name != run)
        lost = sorted(set(self.files) - set(files))
        if lost:  # never a success with part of the set
            raise OSError(f"{', '.join(lost)} vanished from {self.tmp} before the set was moved in; nothing replaced")
        self.check(files)  # again: a file may have appeared while the run worked
        old = owned_files(self.out, self.name)
        written = {f: _stamp(self.tmp / f) for f in files}  # a rename keeps size and mtime
        summary = {**summary, "files": files, "written": written}
        (self.tmp / run).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        for f in [*files, run]:
            os.replace(self.tmp / f, self.out / f)
        for f in old - {*files, run}:
            (self.out / f).unlink(missing_ok=True)
        self.tmp.rmdir()
        self._release()
        self.tmp, self._created = None, []
        return [self.out / f for f in [*files, run]]

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __exit__(self, *exc):
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._release()
            for d in self._created:
                if d.exists() and not any(d.iterdir()):
                    d.rmdir()
