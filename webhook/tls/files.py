"""``canarist certs generate``: issue a CA and a serving pair and write them to a directory."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from webhook.errors import ConfigError, Problem, TLSConfigError
from webhook.tls.issue import DEFAULT_DAYS, KeyPair, Names, issue_ca, issue_serving, service_names

FILES = ("ca.crt", "tls.crt", "tls.key")


@dataclass(frozen=True)
class Generated:
    directory: Path
    names: Names
    ca: KeyPair
    serving: KeyPair

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self.directory / name for name in FILES)


def generate(
    out: str,
    service: str,
    namespace: str,
    *,
    days: int = DEFAULT_DAYS,
    extra_sans: Sequence[str] = (),
    force: bool = False,
    now: dt.datetime | None = None,
) -> Generated:
    """Issue and write ``ca.crt``, ``tls.crt`` and ``tls.key`` (0600) into ``out``.

    Refuses to replace existing files unless ``force``; validates everything before writing.
    """
    names = service_names(service, namespace, extra_sans)
    if days < 1:
        raise ConfigError([Problem("--days", f"must be at least 1, got {days}")])
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise ConfigError([Problem("--out", f"{out} exists and is not a directory")])
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not force:
        raise ConfigError(
            [Problem("--out", f"{', '.join(existing)} already in {out}; pass --force to replace")]
        )
    moment = now or dt.datetime.now(dt.UTC)
    ca = issue_ca(now=moment, days=max(days, 3650))
    serving = issue_serving(ca, names, now=moment, days=days)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / "ca.crt", ca.cert_pem, 0o644)
        write_atomic(directory / "tls.key", serving.key_pem, 0o600)
        write_atomic(directory / "tls.crt", serving.cert_pem, 0o644)
    except OSError as exc:
        raise TLSConfigError(f"cannot write certificates to {out}: {exc.strerror}") from exc
    return Generated(directory, names, ca, serving)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write atomically: a reader (the server reloading) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
