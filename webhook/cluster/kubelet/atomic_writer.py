"""Volume contents written as the kubelet's ``AtomicWriter`` does (pkg/volume/util), so a
process reading a mounted Secret or ConfigMap never sees half of an update:

- the files live in a timestamped directory ``..2024_05_20_10_11_12.123456789``;
- ``..data`` is a symlink to the current one, swapped with one ``rename`` (atomic);
- each user-visible top-level name is a symlink through it (``tls.crt -> ..data/tls.crt``);
- names that left the payload are removed, then the old timestamped directory.

A payload equal to what is on disk (contents and modes) writes nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from webhook.cluster.kubelet.volumes import FileProjection

DATA = "..data"
DATA_TMP = "..data_tmp"
MAX_PATH = 4096


class PayloadError(ValueError):
    """A payload path that would leave the volume (absolute, ``..``) or is empty."""


def check_path(path: str) -> None:
    if not path or len(path) > MAX_PATH:
        raise PayloadError(f"invalid path {path!r}: must be 1..{MAX_PATH} characters")
    if path.startswith("/"):
        raise PayloadError(f"invalid path {path!r}: must be relative")
    parts = path.split("/")
    if ".." in parts or parts[0].startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must not contain '..' or start with '..'")


def _current(target: Path) -> dict[str, FileProjection]:
    try:
        data_dir = target / os.readlink(target / DATA)
    except OSError:
        return {}
    out: dict[str, FileProjection] = {}
    for root, _, files in os.walk(data_dir):
        for name in files:
            full = Path(root, name)
            rel = full.relative_to(data_dir).as_posix()
            out[rel] = FileProjection(full.read_bytes(), full.stat().st_mode & 0o777)
    return out


def write(target: Path, payload: Mapping[str, FileProjection], *,
          clock: float | None = None) -> bool:
    """Project ``payload`` into ``target``; ``True`` when something changed."""
    for path in payload:
        check_path(path)
    target.mkdir(parents=True, exist_ok=True, mode=0o755)
    if (target / DATA).is_symlink() and _current(target) == dict(payload):
        return False
    old_link = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S.", time.gmtime(clock if clock is not None
                                                             else time.time()))
    new_dir = Path(tempfile.mkdtemp(prefix=".." + stamp, dir=target))
    new_dir.chmod(0o755)
    for rel, proj in payload.items():
        dest = new_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, proj.mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(proj.data)
        os.chmod(dest, proj.mode)  # the umask must not narrow the requested mode
    visible = {rel.split("/", 1)[0] for rel in payload}
    for name in visible:
        link = target / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(f"{DATA}/{name}")
    tmp = target / DATA_TMP
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(new_dir.name)
    os.rename(tmp, target / DATA)
    for entry in target.iterdir():
        if entry.name.startswith("..") or entry.name in visible:
            continue
        if entry.is_symlink():
            entry.unlink()
    if old_link and old_link != new_dir.name:
        shutil.rmtree(target / old_link, ignore_errors=True)
    return True
