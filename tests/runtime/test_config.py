"""edgexray.toml: read by classify, serve and watch; flags win; `config show` says where each
value came from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from edgexray import exit_codes


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EDGEXRAY_")}
    environment["EDGEXRAY_SYSTEM_CONFIG"] = str(cwd / "no-system-file.toml")
    environment.update(env or {})
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
    )


def test_classify_takes_its_values_from_the_file_and_flags_win(carded, tmp_path: Path) -> None:
    model = carded("binary_gray.tflite")
    Image.new("L", (20, 20), 90).save(tmp_path / "x.png")
    (tmp_path / "edgexray.toml").write_text(
        f'model = "{model.name}"\naudit = "logs.jsonl"\n\n[classify]\nformat = "jsonl"\n'
    )
    # A flat grey frame, which the input checks refuse: this test is about the file, not them.
    off = {"EDGEXRAY_INPUT_CHECK": "off"}
    from_file = _run("classify", "x.png", cwd=tmp_path, env=off)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["path"] == "x.png"  # jsonl, from [classify]
    assert (
        len((tmp_path / "logs.jsonl").read_text().splitlines()) == 1
    )  # audit, relative to the file
    flag_wins = _run("classify", "x.png", "--format", "csv", cwd=tmp_path, env=off)
    assert flag_wins.stdout.startswith("path,label,confidence")


def test_config_show_says_where_each_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        'threads = 2\naudit = "a.jsonl"\n[serve]\nport = 9001\ntoken_file = "/etc/t"\n'
    )
    shown = _run(
        "--config", str(config), "config", "show", cwd=tmp_path, env={"EDGEXRAY_THREADS": "3"}
    )
    assert shown.returncode == 0, shown.stderr
    lines = {
        (section, line.split()[0]): line
        for section, block in _sections(shown.stdout).items()
        for line in block
    }
    assert lines[("serve", "--port")].split("#")[1].strip() == f"{config} [serve]"
    assert "9001" in lines[("serve", "--port")]
    assert "/etc/t" in lines[("serve", "--token-file")]
    assert str(tmp_path / "a.jsonl") in lines[("watch", "--audit")]
    assert lines[("watch", "--audit")].endswith(f"# {config} (top level)")
    assert lines[("classify", "--threads")].endswith("# environment EDGEXRAY_THREADS")
    assert lines[("serve", "--host")].endswith("# built-in default")


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        elif line.startswith("  "):
            sections[current].append(line.strip())
    return sections


def test_mistakes_in_the_file_are_one_line_and_exit_1(tmp_path: Path) -> None:
    cases = {
        "[serve]\nprot = 9000\n": "[serve] has no option 'prot'",
        "[sevre]\nport = 9000\n": "unknown section(s) [sevre]",
        "port = \n": "not valid TOML",
        "colour = 1\n": "no command has the option(s) colour",
    }
    for text, message in cases.items():
        config = tmp_path / "edgexray.toml"
        config.write_text(text)
        done = _run("config", "show", cwd=tmp_path)
        assert done.returncode == 1, text
        assert message in done.stderr, (text, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1
        assert _run("classify", cwd=tmp_path).stderr == done.stderr  # the commands refuse it too


# A flat grey frame stands in for an image here, which the input checks refuse.
_OFF = {"EDGEXRAY_INPUT_CHECK": "off"}


@pytest.mark.parametrize(
    "setting",
    [
        'trusted-key = ["keys/site.pub"]',  # top level: every command that has the option
        '[classify]\ntrusted_key = ["keys/site.pub"]',
        'trusted-key = "keys/site.pub"',  # one key as a plain string
    ],
)
def test_a_device_configured_only_by_the_file_refuses_unsigned_and_runs_signed(
    setting: str, carded, tmp_path: Path
) -> None:
    (tmp_path / "keys").mkdir()
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model

    private = generate_key_pair(tmp_path / "keys" / "site")[0]
    model = carded("binary_gray.tflite")
    unsigned = tmp_path / "unsigned.tflite"
    shutil.copy(model, unsigned)
    sign_model(model, private)
    Image.new("L", (20, 20), 90).save(tmp_path / "x.png")
    (tmp_path / "edgexray.toml").write_text(setting + "\n")

    refused = _run("classify", "-m", unsigned.name, "x.png", cwd=tmp_path, env=_OFF)
    assert refused.returncode == exit_codes.FATAL, refused.stdout + refused.stderr
    read, error = refused.stderr.strip().splitlines()  # the file read, then the one error line
    assert read == f"edgexray: configuration: {tmp_path / 'edgexray.toml'}"
    assert "unsigned.tflite" in error and "not signed" in error, error

    accepted = _run("classify", "-m", model.name, "x.png", cwd=tmp_path, env=_OFF)
    assert accepted.returncode == 0, accepted.stderr
    assert "x.png" in accepted.stdout


# Each command that runs a model reads the file through the same apply_config: here the model
# and the trust policy come from the file alone (the model as `model`, info's argument included).
_COMMANDS_FROM_THE_FILE = {
    "explain": ["explain", "x.png", "-o", "explained"],
    "bench": ["bench", "--data", "data", "--runs", "1", "--warmup", "0", "--batch-sizes", "1"],
    "info": ["info"],
}


@pytest.mark.parametrize("command", sorted(_COMMANDS_FROM_THE_FILE))
def test_explain_bench_and_info_take_the_model_and_the_trust_policy_from_the_file(
    command: str, carded, tmp_path: Path
) -> None:
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model

    (tmp_path / "keys").mkdir()
    private = generate_key_pair(tmp_path / "keys" / "site")[0]
    model = carded("binary_gray.tflite")
    shutil.copy(model, tmp_path / "unsigned.tflite")
    sign_model(model, private)
    (tmp_path / "data").mkdir()
    Image.new("L", (20, 20), 90).save(tmp_path / "x.png")
    Image.new("L", (20, 20), 90).save(tmp_path / "data" / "x.png")
    config = tmp_path / "edgexray.toml"
    args = _COMMANDS_FROM_THE_FILE[command]

    config.write_text('trusted-key = "keys/site.pub"\nmodel = "unsigned.tflite"\n')
    refused = _run(*args, cwd=tmp_path, env=_OFF)
    assert refused.returncode == exit_codes.FATAL, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert "unsigned.tflite" in lines[-1] and "not signed" in lines[-1], lines

    config.write_text(f'trusted-key = "keys/site.pub"\nmodel = "{model.name}"\n')
    accepted = _run(*args, cwd=tmp_path, env=_OFF)
    assert accepted.returncode == 0, accepted.stderr
    assert model.name in accepted.stdout + accepted.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[serve]\nnew-token = "token"\n', "[serve] new-token"),
        ('new_token = "token"\n', "(top level) new_token"),
    ],
)
def test_a_one_shot_action_in_the_file_is_refused_not_run(
    text: str, where: str, tmp_path: Path
) -> None:
    (tmp_path / "edgexray.toml").write_text(text)
    for args in (["serve"], ["config", "show"], ["classify"]):
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == exit_codes.FATAL, (args, done.stderr)
        (line,) = done.stderr.strip().splitlines()
        assert f"{tmp_path / 'edgexray.toml'} {where}: an action, not a setting" in line, line
        assert not (tmp_path / "token").exists()  # no token written, no server started


def test_watch_once_in_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "edgexray.toml").write_text('[watch]\nonce = true\nresults = "r.jsonl"\n')
    done = _run("watch", "inbox", cwd=tmp_path)
    assert done.returncode == exit_codes.FATAL, done.stderr
    assert "[watch] once: an action, not a setting" in done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[classify]\nthreads = "abc"\n', "[classify] threads: 'abc' is not a valid integer"),
        ("threads = 0\n", "(top level) threads: 0 is not in the range x>=1"),
        ('[serve]\nport = "http"\n', "[serve] port: 'http' is not a valid integer"),
        ('[classify]\nlabels = "ONE"\n', "[classify] labels: give at least two"),
        ('[watch]\nsettle = "soon"\n', "[watch] settle: 'soon' is not a valid float"),
    ],
)
def test_a_bad_value_names_the_file_the_section_and_the_key(
    text: str, message: str, tmp_path: Path
) -> None:
    config = tmp_path / "edgexray.toml"
    config.write_text(text)
    for args in (["classify"], ["config", "show"]):
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == exit_codes.FATAL, (args, done.stderr)
        (line,) = done.stderr.strip().splitlines()
        assert f"{config} {message}" in line, line
        assert "Invalid value for" not in line


def _two_files(folder: Path, system: str, local: str) -> Path:
    """A system file (folder/etc/edgexray.toml, returned) and ./edgexray.toml in `folder`."""
    path = folder / "etc" / "edgexray.toml"
    path.parent.mkdir()
    path.write_text(system)
    (folder / "edgexray.toml").write_text(local)
    return path


def _show(cwd: Path, system: Path) -> tuple[dict[tuple[str, str], str], list[str]]:
    """`config show` with `system` as the system file: ({(section, flag): line}, warnings)."""
    shown = _run("config", "show", cwd=cwd, env={"EDGEXRAY_SYSTEM_CONFIG": str(system)})
    assert shown.returncode == 0, shown.stderr
    lines = {
        (section, line.split()[0]): line
        for section, block in _sections(shown.stdout).items()
        for line in block
    }
    return lines, shown.stderr.strip().splitlines()


def test_a_less_protected_file_cannot_weaken_the_system_file(tmp_path: Path) -> None:
    """./edgexray.toml used to replace /etc's file entirely: keys, input checks, threshold."""
    system = _two_files(
        tmp_path,
        'trusted-key = "/etc/edgexray/site.pub"\ninput-check = "strict"\nthreshold = 0.4\n'
        'min-model-version = ["seed_cnn=5"]\naudit = "/var/log/edgexray.jsonl"\n',
        'trusted-key = "attacker.pub"\ninput-check = "off"\nthreshold = 0.9\n'
        'allow-unsealed-card = true\nallow-degraded-model = true\nallow-override = ["labels"]\n'
        'min-model-version = ["seed_cnn=1"]\naudit = "/dev/null"\n[classify]\ndicom-gate = "off"\n',
    )
    lines, warnings = _show(tmp_path, system)
    classify = {flag: line for (section, flag), line in lines.items() if section == "classify"}
    assert "/etc/edgexray/site.pub" in classify["--trusted-key"] and "attacker" not in str(lines)
    assert classify["--input-check"].split()[1] == "strict"
    assert classify["--threshold"].split()[1] == "0.4"
    assert "('seed_cnn=5',)" in classify["--min-model-version"]
    assert classify["--audit"].split()[1] == "/var/log/edgexray.jsonl"
    for flag in ("--allow-unsealed-card", "--allow-degraded-model"):
        assert classify[flag].split()[1] == "False" and classify[flag].endswith("built-in default")
    assert classify["--allow-override"].split()[1] == "()"
    assert lines[("classify", "--dicom-gate")].split()[1] == "on"
    ignored = [w for w in warnings if "ignored: it would weaken" in w]
    for key in (
        "trusted-key",
        "input-check",
        "threshold",
        "allow-unsealed-card",
        "audit",
        "allow-degraded-model",
        "allow-override",
        "min-model-version",
        "dicom-gate",
    ):
        assert any(f" {key} = " in w for w in ignored), (key, warnings)
    assert len(ignored) == 9, warnings  # each once, though top-level keys are every section's


def test_the_service_and_node_settings_are_security_settings(tmp_path: Path) -> None:
    """Who may reach serve and dicom-node is the system file's to set: ./edgexray.toml cannot add
    a Host name (a DNS-rebinding page's way in), move the token's folder, swap the node's TLS CA
    or widen its allow-lists."""
    system = _two_files(
        tmp_path,
        '[serve]\nallow-host = ["kiosk.local"]\nstate-dir = "/var/lib/edgexray"\n'
        '[dicom-node]\nallow-ae = ["PACS"]\nallow-address = ["10.0.4.0/24"]\n'
        'tls-ca = "/etc/edgexray/ca.pem"\n',
        '[serve]\nallow-host = ["kiosk.local", "evil.example"]\nstate-dir = "/tmp/mine"\n'
        '[dicom-node]\nallow-ae = ["PACS", "ANY"]\nallow-address = ["0.0.0.0/0"]\n'
        'tls-ca = "/tmp/mine/ca.pem"\n',
    )
    lines, warnings = _show(tmp_path, system)
    assert "evil.example" not in lines[("serve", "--allow-host")]
    assert "/var/lib/edgexray" in lines[("serve", "--state-dir")]
    assert "ANY" not in lines[("dicom-node", "--allow-ae")]
    assert "0.0.0.0/0" not in lines[("dicom-node", "--allow-address")]
    assert "/etc/edgexray/ca.pem" in lines[("dicom-node", "--tls-ca")]
    ignored = [w for w in warnings if "ignored: it would weaken" in w]
    for key in ("allow-host", "state-dir", "allow-ae", "allow-address", "tls-ca"):
        assert any(f" {key} = " in w for w in ignored), (key, warnings)


def test_a_less_protected_file_can_strengthen_and_set_ordinary_values(tmp_path: Path) -> None:
    system = _two_files(
        tmp_path,
        'input-check = "warn"\nmin-model-version = ["a=2"]\nthreads = 1\n'
        'trusted-key = ["/k/old.pub", "/k/new.pub"]\nallow-override = ["threshold", "labels"]\n',
        'input-check = "strict"\nmin-model-version = ["a=3", "b=1"]\nthreads = 2\n'
        'trusted-key = "/k/new.pub"\nallow-override = ["threshold"]\n[serve]\nport = 9009\n',
    )
    lines, warnings = _show(tmp_path, system)
    local = f"{tmp_path / 'edgexray.toml'}"
    assert not [w for w in warnings if "ignored" in w], warnings
    for flag, value in {
        "--input-check": "strict",
        "--min-model-version": "('a=3', 'b=1')",
        "--threads": "2",
        "--trusted-key": "(PosixPath('/k/new.pub'),)",
        "--allow-override": "('threshold',)",
    }.items():
        assert lines[("classify", flag)].split("#")[0].split(maxsplit=1)[1].strip() == value
        assert local in lines[("classify", flag)]
    assert lines[("serve", "--port")].split()[1] == "9009"


def test_every_run_names_the_files_it_read_and_the_system_file_keeps_its_keys(
    carded, tmp_path: Path
) -> None:
    """The system file trusts a key; ./edgexray.toml naming another key, or none, cannot lift
    that: an unsigned model is still refused."""
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair

    public = generate_key_pair(tmp_path / "site")[1]
    other = generate_key_pair(tmp_path / "other")[1]
    model = carded("binary_gray.tflite")
    Image.new("L", (20, 20), 90).save(tmp_path / "x.png")
    system = _two_files(tmp_path, f'trusted-key = "{public}"\n', f'trusted-key = "{other}"\n')
    local = tmp_path / "edgexray.toml"
    env = {**_OFF, "EDGEXRAY_SYSTEM_CONFIG": str(system)}
    done = _run("classify", "-m", str(model), "x.png", cwd=tmp_path, env=env)
    assert done.returncode == exit_codes.FATAL, done.stdout
    read, warning, error = done.stderr.strip().splitlines()
    assert read == f"edgexray: configuration: {system} (system), {local}"
    assert warning.startswith(f"edgexray: warning: {local} (top level) trusted-key = ")
    assert "not signed" in error
    # Without a less protected file, the system file alone, named once.
    local.unlink()
    done = _run("classify", "-m", str(model), "x.png", cwd=tmp_path, env=env)
    assert done.stderr.splitlines()[0] == f"edgexray: configuration: {system} (system)"
    assert "not signed" in done.stderr
