"""The deployment files: systemd units with the hardening the README promises, and an example
configuration every command accepts."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _service_section(unit: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / unit)
    return parser["Service"]


@pytest.mark.parametrize(
    "unit", ["edgexray-serve.service", "edgexray-watch.service", "edgexray-dicom-node.service"]
)
def test_units_run_hardened_as_a_dedicated_user(unit: str) -> None:
    service = _service_section(unit)
    assert service["User"] == "edgexray"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert service["ExecStart"].split()[1] in ("serve", "watch", "dicom-node")


def test_the_example_configuration_is_accepted_by_every_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "--config", str(DEPLOY / "edgexray.toml"),
         "config", "show"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "/var/lib/edgexray/results.jsonl" in done.stdout
    assert "ORTHANC@10.0.4.20:4242" in done.stdout  # [dicom-node]


def test_the_serve_unit_gives_serve_a_state_folder_for_its_token() -> None:
    """No token file in the configuration: serve makes its token in $STATE_DIRECTORY, which
    systemd sets from StateDirectory= (and makes writable under ProtectSystem=strict)."""
    service = _service_section("edgexray-serve.service")
    assert service["StateDirectory"] == "edgexray"
    assert "--insecure-no-auth" not in service["ExecStart"]
    config = (DEPLOY / "edgexray.toml").read_text()
    assert not any(line.startswith("token-file") for line in config.splitlines())
