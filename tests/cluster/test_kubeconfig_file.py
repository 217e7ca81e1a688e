"""``canarist up`` writes its admin kubeconfig (it holds the token) safely in shared directories:
through an exclusively created temporary file, never through a file or link someone placed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from webhook.cluster.pki import Credentials, write_kubeconfig

CREDS = Credentials.generate()


def test_a_link_at_the_old_predictable_temporary_name_is_not_written_through(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("someone else's file\n")
    target = tmp_path / "kubeconfig"
    # what another local user could prepare for the name canarist used to write through
    os.symlink(victim, tmp_path / f".kubeconfig.{os.getpid()}.tmp")
    write_kubeconfig(target, "https://127.0.0.1:6443", CREDS)
    assert victim.read_text() == "someone else's file\n"
    assert CREDS.token in target.read_text()


def test_a_link_at_the_kubeconfig_path_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    target = tmp_path / "kubeconfig"
    os.symlink(victim, target)
    write_kubeconfig(target, "https://127.0.0.1:6443", CREDS)
    assert victim.read_text() == "keep\n"
    assert not target.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_file_is_private_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "new" / "kubeconfig"
    write_kubeconfig(target, "https://127.0.0.1:6443", CREDS)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o077 == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["kubeconfig"]
