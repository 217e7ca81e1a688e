"""``canarist dashboard``'s flags: bad ones are refused with their name, before anything
listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["--listen", "nope"], "--listen: must be HOST:PORT with a port 0-65535, got 'nope'"),
    (["--listen", "127.0.0.1:99999"], "--listen: must be HOST:PORT"),
    (["--proxy-admin-url", "ftp://x"], "--proxy-admin-url: must be an http(s) URL, got 'ftp://x'"),
    (["--proxy-admin-url", "http://"], "--proxy-admin-url: must be an http(s) URL"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig: /nonexistent/kubeconfig: no "
                                                   "such file"),
    (["-n", "Bad_NS", "--kubeconfig", "/nonexistent"], "--namespace: 'Bad_NS' is not a valid"),
])
def test_bad_flags(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", *args]) == 2
    assert message in capsys.readouterr().err


def test_auth_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["dashboard", "--auth", "oidc"])
    assert exc.value.code == 2
    assert "invalid choice: 'oidc' (choose from" in capsys.readouterr().err


def test_help_names_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dashboard", "--help"])
    text = capsys.readouterr().out
    for flag in ("--kubeconfig", "--listen", "--read-only", "--auth", "--proxy-admin-url",
                 "127.0.0.1:3100"):
        assert flag in text


def test_the_static_files_are_shipped_in_the_wheel() -> None:
    """Every file the page loads matches pyproject's package-data (so a wheel has it)."""
    import fnmatch
    import tomllib

    import webhook.dashboard

    root = Path(webhook.dashboard.__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    static = Path(webhook.dashboard.__file__).parent / "static"
    names = {p.name for p in static.iterdir()}
    assert names >= {"index.html", "app.js", "live.js", "actions.js", "chart.js", "detail.js",
                     "style.css", "favicon.svg"}
    for name in names:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    import yaml

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["dashboard", "--kubeconfig", str(kubeconfig), "--listen",
                     f"127.0.0.1:{port}"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("canarist: cannot listen: ")
