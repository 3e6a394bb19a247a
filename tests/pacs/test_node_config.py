"""The node's configuration: the [dicom-node] table of edgexray.toml, its settings checked when
made, and `doctor` saying whether the configured node listens."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgexray.cli.main import cli
from edgexray.config import ConfigError
from edgexray.pacs.node_settings import Destination, NodeSettings, parse_networks


def run(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "edgexray.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_dicom_node_table_gives_the_commands_defaults(tmp_path):
    path = config(
        tmp_path,
        '[dicom-node]\nae-title = "XRAYNODE"\nport = 11119\npacs = "PACS@10.0.0.9:104"\n'
        'state = "state"\nallow-ae = ["CR1", "CR2"]\nallow-address = ["10.0.4.0/24"]\n',
    )
    shown = run("--config", path, "config", "show", "--command", "dicom-node")
    assert shown.exit_code == 0, shown.output
    assert "XRAYNODE" in shown.output and "11119" in shown.output
    assert str(tmp_path / "state") in shown.output  # relative to the file's folder
    bad = config(tmp_path, '[dicom-node]\nae-tittle = "X"\n')
    with pytest.raises(ConfigError, match=r"\[dicom-node\] has no option 'ae-tittle'"):
        run("--config", bad, "config", "show")


def test_doctor_says_whether_the_configured_node_listens(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        path = config(tmp_path, f'[dicom-node]\nbind = "127.0.0.1"\nport = {port}\n')
        down = run("--config", path, "doctor", "--no-smoke", "--json")
        assert json.loads(down.stdout)["dicom_node"]["listening"] is False
        listener.listen()
        up = run("--config", path, "doctor", "--no-smoke")
        assert f"dicom-node: EDGEXRAY listening on 127.0.0.1:{port}" in up.stdout
    none = run("--config", config(tmp_path, "threads = 2\n"), "doctor", "--no-smoke")
    assert "dicom-node: not configured" in none.stdout


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ae_title": "A" * 17}, "AE title"),
        ({"ae_title": "BACK\\SLASH"}, "AE title"),
        ({"port": 70000}, "port 70000"),
        ({"allowed_aes": ("",)}, "calling AE title"),
        ({"max_associations": 0}, "max associations"),
        ({"retry_s": 5.0, "retry_max_s": 1.0}, "retry"),
        ({"bind": "anywhere"}, "bind address"),
    ],
)
def test_node_settings_are_checked_when_made(tmp_path, changes, message):
    base = dict(ae_title="NODE", port=0, state=tmp_path, destination=Destination("P", "h", 104))
    with pytest.raises(ValueError, match=message):
        NodeSettings(**{**base, **changes})


def test_destinations_and_address_lists_parse():
    assert Destination.parse("ORTHANC@pacs.local:4242") == Destination(
        "ORTHANC", "pacs.local", 4242
    )
    assert Destination.parse("P@[::1]:104").host == "::1"
    for bad in ("ORTHANC@pacs.local", "pacs.local:4242", "WAYTOOLONGAETITLE1@h:1"):
        with pytest.raises(ValueError):
            Destination.parse(bad)
    settings = NodeSettings(
        "NODE",
        0,
        Path("."),
        Destination("P", "h", 1),
        allowed_networks=parse_networks(("10.0.4.0/24",)),
    )
    assert settings.address_allowed("10.0.4.7") and not settings.address_allowed("10.0.5.7")
    with pytest.raises(ValueError, match="not an IP address"):
        parse_networks(("10.0.4.0/33",))


def test_the_node_and_results_modules_import_no_dicom_library_until_used():
    code = (
        "import sys, edgexray.cli.dicom_node, edgexray.cli.dicom_results, edgexray.pacs.service, "
        "edgexray.pacs.probe, edgexray.cli.classify\n"
        "print(sorted(m for m in ('highdicom', 'pynetdicom', 'pydicom') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("environ", "outcome"),
    [({}, pytest.skip.Exception), ({"CI": "true"}, pytest.fail.Exception)],
    ids=["newcomer-skips", "ci-fails"],
)
def test_without_orthanc_a_newcomer_skips_and_ci_fails(environ, outcome):
    from system_commands import require_command

    # Any outcome is caught, so that a skip where a failure is due fails this test (a skip
    # escaping pytest.raises(Failed) would only skip it).
    with pytest.raises(BaseException, match=r"apt-get install orthanc") as caught:
        require_command("no-such-orthanc-binary", "orthanc", environ)
    assert caught.type is outcome
    assert require_command("sh", "dash", environ).endswith("sh")  # present: its path
