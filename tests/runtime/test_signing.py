"""Signed models: under a trust policy only a file signed by a trusted key, unchanged since, runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgexray import Classifier, ClassifierOptions, exit_codes
from edgexray.cli.main import cli, main
from edgexray.errors import EdgexrayError, UntrustedModelError
from edgexray.modelfile import read_model_file, write_entries
from edgexray.signing import SIGNATURE_ENTRY, TrustPolicy, signature_sidecar, verify_model
from edgexray.signing.keys import generate_key_pair
from edgexray.signing.sign import sign_model

pytest.importorskip("cryptography")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("keys")
    return {name: generate_key_pair(folder / name)[:2] for name in ("site", "rotated", "other")}


def policy(*public: Path) -> TrustPolicy:
    return TrustPolicy(tuple(public))


@pytest.fixture(params=["binary_gray.tflite", "binary_gray.onnx"])
def signed(request, carded, keys) -> Path:
    model = carded(request.param)
    sign_model(model, keys["site"][0])
    return model


def run(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_sign_then_verify(signed, keys):
    signer = verify_model(signed, policy(keys["site"][1]))
    assert signer.source == "embedded" and len(signer.key_id) == 16
    assert signature_sidecar(signed).is_file()
    result = run("verify", signed, "--trusted-key", keys["site"][1])
    assert result.exit_code == 0 and signer.key_id in result.output


def test_signing_keeps_the_model_bytes_and_the_card(carded, keys):
    model = carded("binary_gray.tflite")
    before = read_model_file(model)
    sign_model(model, keys["site"][0])
    after = read_model_file(model)
    assert after.payload == before.payload and after.card == before.card
    assert SIGNATURE_ENTRY in after.entries


def _flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_one_flipped_bit_anywhere_is_refused(signed, keys, tmp_path):
    """Every stretch of the file: payload, card and signature entries, the container's framing."""
    data = signed.read_bytes()
    container_start = read_model_file(signed).payload_ranges[-1][1]
    positions = {*range(0, len(data), max(1, len(data) // 200)), *range(container_start, len(data))}
    entries = read_model_file(signed).entries
    for name in ("card", SIGNATURE_ENTRY):  # be sure both entries' own bytes are in the sample
        index = data.rfind(entries[name][:20].encode())
        if index >= 0:
            positions.update(range(index, index + 20))
    trust = policy(keys["site"][1])
    copy = tmp_path / signed.name
    for position in sorted(positions):
        copy.write_bytes(data)
        _flip(copy, position)
        with pytest.raises(EdgexrayError):
            verify_model(copy, trust)


def test_a_flipped_bit_in_the_signature_sidecar_is_refused(carded, keys):
    model = carded("binary_gray.tflite")
    sign_model(model, keys["site"][0])
    entries = dict(read_model_file(model).entries)
    del entries[SIGNATURE_ENTRY]
    write_entries(model, entries)  # only the sidecar's signature is left
    assert verify_model(model, policy(keys["site"][1])).source == "sidecar"
    sidecar = signature_sidecar(model)
    text = sidecar.read_text()
    start = text.index('"signature": "') + len('"signature": "')
    sidecar.write_text(text[:start] + ("A" if text[start] != "A" else "B") + text[start + 1 :])
    with pytest.raises(UntrustedModelError, match="does not match the file"):
        verify_model(model, policy(keys["site"][1]))


def test_copying_the_model_file_alone_is_enough(signed, keys):
    signature_sidecar(signed).unlink()
    assert verify_model(signed, policy(keys["site"][1])).source == "embedded"


def test_another_key_is_refused(signed, keys):
    with pytest.raises(UntrustedModelError, match="not trusted"):
        verify_model(signed, policy(keys["other"][1]))


def test_unsigned_is_refused_under_a_trust_policy(carded, keys):
    with pytest.raises(UntrustedModelError, match="not signed"):
        verify_model(carded("binary_gray.tflite"), policy(keys["site"][1]))


def test_two_trusted_keys_accept_either_signer(carded, keys):
    old, new = carded("binary_gray.tflite"), carded("binary_gray.onnx")
    sign_model(old, keys["site"][0])
    sign_model(new, keys["rotated"][0])
    both = policy(keys["site"][1], keys["rotated"][1])
    assert verify_model(old, both).key_id != verify_model(new, both).key_id


def test_the_python_api_refuses_and_accepts(signed, keys):
    options = ClassifierOptions(trusted_keys=(keys["site"][1],), input_check="off")
    with Classifier(signed, options) as clf:
        assert clf.signer is not None and clf.predict(np.zeros((16, 16), np.uint8)).ok
    with pytest.raises(UntrustedModelError):
        Classifier(signed, ClassifierOptions(trusted_keys=(keys["other"][1],)))


@pytest.mark.parametrize("command", ["classify", "explain", "info", "bench", "verify"])
def test_every_command_refuses_in_one_line_naming_the_file_and_the_reason(
    command, carded, keys, tmp_path, monkeypatch, capsys
):
    unsigned = carded("binary_gray.tflite")
    monkeypatch.setenv("EDGEXRAY_TRUSTED_KEYS", str(keys["site"][1]))
    args = {
        "classify": ["classify", "-m", unsigned, tmp_path],
        "explain": ["explain", "-m", unsigned, tmp_path, "-o", tmp_path / "explained"],
        "info": ["info", unsigned],
        "bench": ["bench", "-m", unsigned, "--data", tmp_path],
        "verify": ["verify", unsigned],
    }[command]
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    assert stop.value.code == exit_codes.FATAL
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(unsigned) in lines[0] and "not signed" in lines[0], lines


def test_info_shows_the_signer_with_or_without_a_policy(signed, carded, keys):
    plain = run(
        "info",
        carded("binary_gray.onnx") if signed.suffix == ".tflite" else carded("binary_gray.tflite"),
    )
    assert "signature: not signed" in plain.stdout
    listed = run("info", signed)
    assert "signed by key" in listed.stdout
    checked = run("info", signed, "--trusted-key", keys["site"][1])
    assert checked.exit_code == 0 and "signed by trusted key" in checked.stdout


def test_without_trusted_keys_nothing_changes(carded, tmp_path):
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    result = run("classify", "-m", carded("binary_gray.tflite"), tmp_path)
    assert result.exit_code == 0


def test_the_plain_install_does_not_import_cryptography():
    code = "import sys, edgexray; edgexray.Classifier; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
