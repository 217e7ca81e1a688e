"""Which images the embedded node can run, as a pure function of the image reference.

The node pulls nothing. It runs two kinds of containers:

- the **demo app** (``demo_app``), served in-process: any image whose repository's last path
  segment is ``demo`` (``demo``, ``demo:v2``, ``registry.example.com/shop/demo:1.4``);
- **canarist's own image**: ``ghcr.io/canarist/canarist`` with any tag or digest, and every
  repository named with ``canarist up --image REPO``; such a container runs its command as a
  real process of the installed canarist (``process``).

Anything else stays waiting in ``ErrImagePull``/``ImagePullBackOff`` with a message that says
which images the node runs (``unrunnable_message``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

CANARIST_REPOSITORY = "ghcr.io/canarist/canarist"
DEMO_NAME = "demo"


class ImageKind(enum.Enum):
    DEMO = "demo"
    CANARIST = "canarist"
    UNKNOWN = "unknown"


def repository(image: str) -> str:
    """The repository of a reference: its tag and digest removed, Docker Hub spelled out
    (``nginx`` -> ``docker.io/library/nginx``), so two spellings of one repository compare equal.
    """
    name = image.strip().split("@", 1)[0]
    head, _, last = name.rpartition("/")
    if ":" in last:
        last = last.split(":", 1)[0]
    name = f"{head}/{last}" if head else last
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"  # no registry host: Docker Hub
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name.removeprefix("docker.io/")
    return name.lower()


def canarist_repositories(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The repositories that run as canarist: the published one first, then ``--image``s."""
    out = [repository(CANARIST_REPOSITORY)]
    for repo in extra:
        r = repository(repo)
        if r not in out:
            out.append(r)
    return tuple(out)


def classify(image: str, canarist_repos: Iterable[str]) -> ImageKind:
    repo = repository(image) if image.strip() else ""
    if repo and repo in canarist_repos:
        return ImageKind.CANARIST
    if repo.rsplit("/", 1)[-1] == DEMO_NAME:
        return ImageKind.DEMO
    return ImageKind.UNKNOWN


def unrunnable_message(image: str, canarist_repos: Iterable[str]) -> str:
    """Why an image cannot run here, naming the images that can (the ErrImagePull message)."""
    repos = ", ".join(f'"{r.removeprefix("docker.io/library/")}"' for r in canarist_repos)
    return (f'the embedded cluster\'s node pulls no images: it runs the demo app (images named '
            f'"{DEMO_NAME}", e.g. "demo:v1") and canarist\'s image ({repos}, any tag); '
            f'"{image}" is neither')
