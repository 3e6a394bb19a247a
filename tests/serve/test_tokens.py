"""A token by default: serve makes one on first start in its state folder (mode 0600), says where
(never what), keeps it across restarts, and runs open only with --insecure-no-auth."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from serve_process import TOKEN, running_server, serve_command

from edgexray.serve.tokens import TokenError, default_state_dir, state_token


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/edgexray", "XDG_STATE_HOME": "/x"}, "/var/lib/edgexray"),
        ({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}, "/var/lib/a"),
        ({"XDG_STATE_HOME": "/home/k/.state", "HOME": "/home/k"}, "/home/k/.state/edgexray"),
        ({"HOME": "/home/k"}, "/home/k/.local/state/edgexray"),
    ],
)
def test_the_state_folder_is_systemds_else_xdgs(environ: dict[str, str], expected: str) -> None:
    assert default_state_dir(environ) == Path(expected)


def test_a_state_token_is_made_once_private_and_then_kept(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "edgexray"
    first = state_token(folder)
    assert first.created and first.origin == str(folder / "serve-token")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "serve-token").stat().st_mode) == 0o600
    assert len(first.value) >= 40 and first.value not in repr(first)
    again = state_token(folder)
    assert again.value == first.value and not again.created
    assert [p.name for p in folder.iterdir()] == ["serve-token"]  # no temporary left behind


def test_a_state_token_others_may_read_is_refused(tmp_path: Path) -> None:
    state_token(tmp_path)
    (tmp_path / "serve-token").chmod(0o640)
    with pytest.raises(TokenError, match="may be read by others"):
        state_token(tmp_path)


def test_serve_without_a_token_makes_one_says_where_and_requires_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_server(tmp_path, "--state-dir", str(state), token=None) as process:
        path = state / "serve-token"
        token = path.read_text().strip()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with process.client(token=None) as stranger:
            assert stranger.get("/v1/model").status_code == 401
            assert stranger.post("/v1/classify", files={"file": ("a.png", b"x")}).status_code == 401
        with process.client(token) as client:
            assert client.get("/v1/model").status_code == 200
        process.stop()
        first_log = process.output()
    assert f"made a new token in {path} (mode 0600)" in first_log
    assert token not in first_log
    # The next start keeps the token, and says where it is.
    with running_server(tmp_path, "--state-dir", str(state), token=None) as process:
        with process.client(token) as client:
            assert client.get("/v1/model").status_code == 200
        process.stop()
        assert f"clients must send the token from {path}" in process.output()
        assert token not in process.output()


def test_insecure_no_auth_is_the_only_way_to_run_open(tmp_path: Path) -> None:
    with running_server(tmp_path, "--insecure-no-auth", token=None) as process:
        with process.client(token=None) as anyone:
            assert anyone.get("/v1/model").status_code == 200
        process.stop()
        assert "--insecure-no-auth: no token" in process.output()
    assert not (tmp_path / "xdg-state").exists()  # no token was made


def test_insecure_no_auth_with_a_token_is_a_usage_error(tmp_path: Path) -> None:
    env = dict(os.environ, EDGEXRAY_SERVE_TOKEN=TOKEN)
    done = subprocess.run(
        serve_command("--insecure-no-auth", "--port", "1"), capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert "give one or the other" in done.stderr
    assert "Traceback" not in done.stderr
