"""A container's filesystem under ``NAMESPACES`` isolation: planned here (pure), set up by a
shell script that runs in the container's fresh mount namespace just before the program.

The container sees the machine's root through an **overlay** whose upper layer is a private
tmpfs: it reads every file of the machine (the installed canarist and its interpreter are its
"image"), and everything it writes, like every mount point the kubelet has to create for a
volume, stays in the container. Mounts of the machine under ``/`` (``/proc``, ``/sys``,
``/dev``...) are bound in as they are, except that one holding a mount path that does not exist
yet gets its own overlay; ``/tmp`` is a private tmpfs (but for the installed canarist and its
interpreter when they live under ``/tmp``, bound in read-only); the node's own directory (every
pod's volume files) is hidden, and so are the invoking user's ``~/.kube`` and ``~/.canarist``. The
pod's volumes are then bound at their mount paths (read-only where asked), ``/etc/hosts`` is
the pod's, and the program starts with that root (``unshare --root``) in its working directory.

Nothing of this is visible outside the container (the namespace is ``--propagation private``)
and all of it vanishes with the container's last process.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

SCRATCH_SIZE = "512m"
TMP_SIZE = "256m"
STATUS_FD = 0  # the script reports "ok" or its error on its stdin (a pipe), then
# gives the program /dev/null as stdin


class MountPlanError(Exception):
    """A mount path the node cannot provide."""


@dataclass(frozen=True)
class Mountpoint:
    id: int
    parent: int
    path: str


@dataclass(frozen=True)
class Bind:
    source: str
    target: str
    read_only: bool = False
    file: bool = False


@dataclass(frozen=True)
class RootPlan:
    overlays: tuple[str, ...]  # machine mounts re-created as overlays ("/" first)
    rbinds: tuple[str, ...]    # machine mounts bound in recursively, as they are
    binds: tuple[Bind, ...]    # volumes, targets resolved
    hide: tuple[str, ...]      # covered by an empty tmpfs
    keep: tuple[str, ...] = ()  # under /tmp, yet bound into the private /tmp (read-only)


def _unescape(field: str) -> str:
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mountpoint]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0].isdigit() and parts[1].isdigit():
            out.append(Mountpoint(int(parts[0]), int(parts[1]), _unescape(parts[4])))
    return out


def _under(path: str, top: str) -> bool:
    return top in ("/", path) or path.startswith(top.rstrip("/") + "/")


def top_mounts(mounts: Sequence[Mountpoint]) -> tuple[str, list[Mountpoint], dict[int, list[str]]]:
    """The root mount's id as text, its direct children (the last one per path), and the
    mount points below each child."""
    roots = [m for m in mounts if m.path == "/"]
    if not roots:
        return "", [], {}
    root = roots[-1]
    children: dict[str, Mountpoint] = {}
    for m in mounts:
        if m.parent == root.id and m.path != "/":
            children[m.path] = m
    below: dict[int, list[str]] = {}
    by_parent: dict[int, list[Mountpoint]] = {}
    for m in mounts:
        by_parent.setdefault(m.parent, []).append(m)
    for child in children.values():
        paths = sorted({m.path for m in by_parent.get(child.id, []) if m.path != child.path})
        below[child.id] = paths
    return str(root.id), sorted(children.values(), key=lambda m: m.path), below


def plan(mounts: Sequence[Mountpoint], binds: Iterable[Bind], hide: Iterable[str], *,
         keep: Iterable[str] = (),
         realpath: Callable[[str], str] = os.path.realpath,
         exists: Callable[[str], bool] = os.path.lexists) -> RootPlan:
    """Which machine mounts to overlay or bind, and where each volume lands. ``keep``: what the
    container must still see although it lies under ``/tmp`` (the private tmpfs there would
    hide it): the installed canarist and its interpreter, e.g. in a checkout under /tmp."""
    _, children, below = top_mounts(mounts)
    resolved: list[Bind] = []
    overlay_ids: set[int] = set()
    for b in binds:
        target = realpath(b.target)
        if _under(target, "/proc") or _under(target, "/sys"):
            raise MountPlanError(f"mount path {b.target}: the node cannot mount into /proc or "
                                 "/sys")
        resolved.append(Bind(b.source, target, b.read_only, b.file))
        if exists(target) or _under(target, "/tmp"):
            continue
        holder = [c for c in children if c.path != "/tmp" and _under(target, c.path)]
        if not holder:
            continue  # on the root filesystem: the root overlay takes the new directory
        mount = max(holder, key=lambda c: len(c.path))
        deeper = [p for p in below.get(mount.id, []) if _under(target, p)]
        if deeper:
            raise MountPlanError(f"mount path {b.target}: the node cannot create it inside "
                                 f"the machine's mount {deeper[-1]}")
        overlay_ids.add(mount.id)
    overlays = ["/"] + [c.path for c in children if c.id in overlay_ids]
    rbinds: list[str] = []
    for c in children:
        if c.path == "/tmp":
            continue
        if c.id in overlay_ids:
            rbinds.extend(below.get(c.id, []))
        else:
            rbinds.append(c.path)
    hidden = tuple(h for h in hide if exists(h) and not _under(realpath(h), "/tmp"))
    resolved.sort(key=lambda b: (b.target.count("/"), b.target))
    return RootPlan(tuple(overlays), tuple(rbinds), tuple(resolved), hidden,
                    outermost(realpath(k) for k in keep if exists(k) and _under(realpath(k),
                                                                                 "/tmp")))


def outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """``paths`` without those inside another of them (and without ``/tmp`` itself)."""
    out: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if path.rstrip("/") != "/tmp" and not any(_under(path, o) for o in out):
            out.append(path)
    return tuple(sorted(out))


def script(p: RootPlan, scratch: str, workdir: str) -> str:
    """The shell program that builds the root in the container's mount namespace, reports on
    its stdin (a pipe) and starts ``"$@"`` in it."""
    q = shlex.quote
    lines = [
        "fail() { printf '%s\\n' \"$*\" >&0; exit 128; }",
        f"S={q(scratch)}",
        'R="$S/root"',
        f"mount -t tmpfs -o mode=0700,size={SCRATCH_SIZE} canarist-scratch \"$S\" "
        "|| fail cannot mount the scratch tmpfs",
    ]
    for i, path in enumerate(p.overlays):
        where = '"$R"' if path == "/" else f'"$R"{q(path)}'
        lines += [
            f'mkdir -p "$S/u{i}" "$S/w{i}" "$R"',
            f"mount -t overlay -o lowerdir={q(path)},upperdir=\"$S/u{i}\",workdir=\"$S/w{i}\" "
            f"canarist-root {where} || fail cannot overlay {q(path)}",
        ]
    for path in p.rbinds:
        lines.append(f'mount --rbind {q(path)} "$R"{q(path)} 2>/dev/null || true')
    lines.append(f"mount -t tmpfs -o mode=1777,size={TMP_SIZE} tmpfs \"$R/tmp\" "
                 "|| fail cannot mount /tmp")
    for b in p.binds:
        dest = f'"$R"{q(b.target)}'
        if b.file:
            lines.append(f"mkdir -p \"$(dirname {dest})\" && {{ [ -e {dest} ] || : > {dest}; }} "
                         f"|| fail cannot create mount point {q(b.target)}")
        else:
            lines.append(f"mkdir -p {dest} || fail cannot create mount point {q(b.target)}")
        lines.append(f"mount --bind {q(b.source)} {dest} || fail cannot mount {q(b.target)}")
        if b.read_only:
            lines.append(f"mount -o remount,bind,ro {dest} "
                         f"|| fail cannot make {q(b.target)} read-only")
    # after the volumes: one mounted at /tmp (an emptyDir beside readOnlyRootFilesystem) would
    # cover the installation again
    for k in p.keep:
        lines += [f'mkdir -p "$R"{q(k)} || fail cannot create {q(k)}',
                  f'mount --rbind {q(k)} "$R"{q(k)} || fail cannot mount {q(k)}',
                  f'mount -o remount,bind,ro "$R"{q(k)} || fail cannot make {q(k)} read-only']
    for h in p.hide:
        lines.append(f'mount -t tmpfs -o size=4k,mode=0755 canarist-hidden "$R"{q(h)} '
                     f"|| fail cannot hide {q(h)}")
    lines += [
        f'mkdir -p "$R"{q(workdir)} || fail cannot create the working directory {q(workdir)}',
        "echo ok >&0",
        "exec 0</dev/null",
        f'exec unshare --root="$R" --wd={q(workdir)} -- "$@"',
    ]
    return "\n".join(lines) + "\n"
