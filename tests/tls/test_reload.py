"""The server context follows its files: new handshakes get the new certificate."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.tls.handshake import (
    NAMESPACE,
    SERVICE,
    apiserver_context,
    peer_certificate,
    tls_echo_server,
)
from webhook.errors import TLSConfigError
from webhook.tls import ReloadingContext, issue_ca, issue_serving, service_names
from webhook.tls.issue import KeyPair

NOW = dt.datetime.now(dt.UTC)
CA = issue_ca(now=NOW)
NAMES = service_names(SERVICE, NAMESPACE)


def _swap(tmp: Path, pair: KeyPair, *, cert: bool = True, key: bool = True) -> None:
    """Replace the files the way a Secret volume does: write aside, then rename over."""
    for name, data, wanted in (("tls.crt", pair.cert_pem, cert), ("tls.key", pair.key_pem, key)):
        if wanted:
            (tmp / f".{name}.new").write_bytes(data)
            os.replace(tmp / f".{name}.new", tmp / name)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    _swap(tmp_path, issue_serving(CA, NAMES, now=NOW))
    return tmp_path


def _context(files: Path) -> ReloadingContext:
    return ReloadingContext(str(files / "tls.crt"), str(files / "tls.key"))


async def test_swapped_files_are_served_from_the_next_handshake(files: Path) -> None:
    reloading = _context(files)
    client = apiserver_context(cadata=CA.cert_pem)
    async with tls_echo_server(reloading.context) as port:
        before = await peer_certificate(port, client)
        assert reloading.check() is False  # nothing changed
        fresh = issue_serving(CA, NAMES, now=NOW, days=3)
        _swap(files, fresh)
        assert reloading.check() is True
        after = await peer_certificate(port, client)
    assert after.serial_number == fresh.cert.serial_number
    assert before.serial_number != after.serial_number
    assert reloading.reloads == 1
    assert reloading.not_after == pytest.approx(fresh.cert.not_valid_after_utc.timestamp())


async def test_half_written_pair_keeps_the_old_certificate(files: Path) -> None:
    reloading = _context(files)
    client = apiserver_context(cadata=CA.cert_pem)
    async with tls_echo_server(reloading.context) as port:
        before = await peer_certificate(port, client)
        fresh = issue_serving(CA, NAMES, now=NOW)
        _swap(files, fresh, key=False)  # new certificate, old key: does not load
        assert reloading.check() is False
        assert reloading.check() is False  # counted once per change of the files
        assert reloading.failures == 1 and "cannot load" in reloading.last_error
        assert (await peer_certificate(port, client)).serial_number == before.serial_number
        _swap(files, fresh, cert=False)  # the key follows
        assert reloading.check() is True
        assert (await peer_certificate(port, client)).serial_number == fresh.cert.serial_number
    assert reloading.last_error == ""


async def test_deleted_files_keep_serving(files: Path) -> None:
    reloading = _context(files)
    client = apiserver_context(cadata=CA.cert_pem)
    async with tls_echo_server(reloading.context) as port:
        before = await peer_certificate(port, client)
        (files / "tls.crt").unlink()
        assert reloading.check() is False
        assert "no such file" in reloading.last_error
        assert (await peer_certificate(port, client)).serial_number == before.serial_number


def test_missing_or_bad_files_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="no such file"):
        ReloadingContext(str(tmp_path / "nope.crt"), str(tmp_path / "nope.key"))
    (tmp_path / "tls.crt").write_text("not a certificate")
    (tmp_path / "tls.key").write_text("not a key")
    with pytest.raises(TLSConfigError, match="cannot load TLS certificate"):
        ReloadingContext(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))
