"""The trust policy's rules (issue 24): a signature binds the model's name, a version and the export
gate's verdict; a device refuses an older signed model, a signed degraded variant and an override
of the signed card unless its policy allows them, and every record says which version ran."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgexray import Classifier, ClassifierOptions, exit_codes
from edgexray.card import Parity
from edgexray.card_resolution import CardOverrides
from edgexray.cli.main import cli, main
from edgexray.errors import UntrustedModelError
from edgexray.modelfile import read_model_file, write_entries
from edgexray.signing import SIGNATURE_ENTRY, TrustPolicy, signature_sidecar, verify_model
from edgexray.signing.keys import (
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    raw_public,
)
from edgexray.signing.rules import TrustPolicyError, TrustRules
from edgexray.signing.sign import sign_model
from edgexray.signing.statement import Signature, file_statement

pytest.importorskip("cryptography")

NAME = "binary_gray.tflite"  # the tiny card's name (conftest.tiny_card)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    private, public, _ = generate_key_pair(tmp_path_factory.mktemp("keys") / "site")
    return private, public


def _options(key: tuple[Path, Path], **rules: object) -> ClassifierOptions:
    return ClassifierOptions(
        trusted_keys=(key[1],), input_check="off", trust_rules=TrustRules(**rules)
    )


def _signed(carded, key, version: int | None = None, folder: str = "a", **card: object) -> Path:
    """A signed copy of the tiny model (card `card`) in its own `folder`: several copies of one
    model name can live side by side."""
    model = carded(NAME, **card)
    (model.parent / folder).mkdir(exist_ok=True)
    model = model.rename(model.parent / folder / model.name)
    sign_model(model, key[0], version)
    return model


def _stderr_line(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    lines = capsys.readouterr().err.strip().splitlines()
    if lines and lines[0].startswith("edgexray: configuration: "):
        lines = lines[1:]  # the files a run read come first
    assert len(lines) == 1, lines
    return int(stop.value.code or 0), lines[0]


def test_the_signature_binds_name_version_and_gate_verdict(carded, key):
    model = _signed(carded, key, 7)
    statement = Signature.from_json(read_model_file(model).entries[SIGNATURE_ENTRY], "x").statement
    assert (statement.name, statement.version, statement.gate) == (NAME, 7, "unmeasured")
    assert b"\nversion 7\n" in statement.message() and b'\nname "binary_gray.tflite"\n' in (
        statement.message()
    )
    # Default version: the card's creation time (conftest: 2026-12-01T00:00:00+00:00).
    assert verify_model(_signed(carded, key, folder="b"), TrustPolicy((key[1],))).version == (
        20261201000000
    )


def test_an_older_signed_model_swapped_in_is_refused_under_a_min_version_policy(
    carded, key, tmp_path, capsys
):
    new = _signed(carded, key, 2)
    old = _signed(carded, key, 1, folder="old")
    with Classifier(new, _options(key, min_versions={NAME: 2})) as clf:
        assert clf.identity.version == 2
    with pytest.raises(TrustPolicyError, match=r"version 1 of model .* older than the minimum 2"):
        Classifier(old, _options(key, min_versions={NAME: 2}))
    Classifier(old, _options(key)).close()  # without the rule it still runs
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    args = ["classify", "-m", old, "--trusted-key", key[1], "--min-model-version", f"{NAME}=2"]
    code, line = _stderr_line([*args, tmp_path / "a.png"], capsys)
    assert code == exit_codes.FATAL and str(old) in line and "older than the minimum 2" in line


def test_the_version_cannot_be_edited_in_the_stored_signature(carded, key):
    model = _signed(carded, key, 1)
    entries = dict(read_model_file(model).entries)
    entries[SIGNATURE_ENTRY] = entries[SIGNATURE_ENTRY].replace('"version": 1', '"version": 9')
    write_entries(model, entries)
    with pytest.raises(UntrustedModelError, match="does not match the file"):
        verify_model(model, TrustPolicy((key[1],)))


def _sign_as_before_versions(model: Path, private_key: Path) -> None:
    """A format-1 signature, as edgexray wrote before versions were bound."""
    secret = load_private_key(private_key)
    statement = file_statement(read_model_file(model), None)
    public = raw_public(secret.public_key())
    signature = Signature(key_id(public), public, secret.sign(statement.message()), statement)
    assert '"format": "edgexray-ed25519/1"' in signature.to_json()
    write_entries(model, {**read_model_file(model).entries, SIGNATURE_ENTRY: signature.to_json()})
    signature_sidecar(model).unlink(missing_ok=True)


def test_a_signature_made_before_versions_were_bound_is_refused_under_a_min_version_policy(
    carded, key
):
    model = carded(NAME)
    _sign_as_before_versions(model, key[0])
    assert verify_model(model, TrustPolicy((key[1],))).version is None
    with pytest.raises(TrustPolicyError, match="signed before edgexray bound a version"):
        Classifier(model, _options(key, min_versions={"another model": 1}))


def _degraded() -> Parity:
    return Parity(agreement=0.5, max_abs_diff=0.4, mean_abs_diff=0.2, images=8, degraded=True)


def test_a_signed_degraded_variant_is_refused_unless_the_policy_allows_it(
    carded, key, tmp_path, capsys
):
    model = _signed(carded, key, 3, parity=_degraded())
    assert verify_model(model, TrustPolicy((key[1],), TrustRules(allow_degraded=True))).gate == (
        "degraded"
    )
    with pytest.raises(TrustPolicyError, match="flagged this variant degraded"):
        Classifier(model, _options(key))
    with Classifier(model, _options(key, allow_degraded=True)) as clf:
        assert clf.predict(np.zeros((16, 16), np.uint8)).ok
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    args = ["classify", "-m", model, "--trusted-key", key[1], tmp_path / "a.png"]
    code, line = _stderr_line(args, capsys)
    assert code == exit_codes.FATAL and "degraded" in line and "--allow-degraded-model" in line
    allowed = CliRunner().invoke(cli, [str(a) for a in [*args, "--allow-degraded-model"]])
    assert allowed.exit_code == 0, allowed.output


def test_an_allow_list_of_digests_runs_only_the_listed_files(carded, key):
    listed = _signed(carded, key, 1)
    other = _signed(carded, key, 1, folder="other", threshold=0.4)
    digest = hashlib.sha256(listed.read_bytes()).hexdigest()
    Classifier(listed, _options(key, allowed_digests={digest})).close()
    with pytest.raises(TrustPolicyError, match="not in the trust policy's allow-list"):
        Classifier(other, _options(key, allowed_digests={digest}))


def test_pinning_rules_without_trusted_keys_are_a_usage_error(carded, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["classify", "-m", str(carded(NAME)), "--min-model-version", f"{NAME}=1", str(tmp_path)],
    )
    assert result.exit_code == exit_codes.USAGE and "need --trusted-key" in result.output
    config = tmp_path / "site.toml"  # a malformed rule in a file names the file and the key
    config.write_text('allowed-model-digest = ["abc"]\n')
    malformed = CliRunner().invoke(cli, ["--config", str(config), "classify", str(tmp_path)])
    assert f"{config} (top level) allowed-model-digest: an allowed digest is" in str(
        malformed.exception
    )
    with pytest.raises(ValueError, match="needs trusted keys"):
        ClassifierOptions(trust_rules=TrustRules(min_versions={NAME: 1}))


def test_an_override_of_a_signed_card_is_refused_unless_allowed(carded, key, tmp_path, capsys):
    model = _signed(carded, key, 1, threshold=0.5)
    with pytest.raises(TrustPolicyError, match="--threshold would replace the signed card"):
        Classifier(model, _options(key), CardOverrides(threshold=0.3))
    with pytest.raises(TrustPolicyError, match="--labels, --normalize"):
        Classifier(model, _options(key), CardOverrides(labels=("A", "B"), normalize="raw"))
    Classifier(model, _options(key), CardOverrides(threshold=0.5)).close()  # the card's own value
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    code, line = _stderr_line(
        ["classify", "-m", model, "--trusted-key", key[1], "--threshold", "0.3", tmp_path], capsys
    )
    assert code == exit_codes.FATAL and "--allow-override threshold" in line
    # From the configuration file too: the file's value is an override like the flag's.
    config = tmp_path / "site.toml"
    config.write_text(f'threshold = 0.3\ntrusted-key = "{key[1]}"\n')
    code, line = _stderr_line(["--config", config, "classify", "-m", model, tmp_path], capsys)
    assert code == exit_codes.FATAL and "--threshold would replace" in line


def test_an_allowed_override_and_the_version_are_in_every_record_and_audit_line(
    carded, key, tmp_path
):
    model = _signed(carded, key, 4, threshold=0.5)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    audit = tmp_path / "audit.jsonl"
    args = ["classify", "-m", model, "--trusted-key", key[1], "--threshold", "0.3"]
    args += ["--allow-override", "threshold", "--format", "jsonl", "--audit", audit]
    result = CliRunner().invoke(cli, [str(a) for a in [*args, tmp_path / "a.png"]])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])["model"]
    line = json.loads(audit.read_text().splitlines()[0])["model"]
    for facts in (record, line):
        assert facts["version"] == 4
        assert facts["overrides"] == {"threshold": {"card": 0.5, "used": 0.3}}


def test_verify_and_info_show_the_signed_version(carded, key):
    model = _signed(carded, key, 5)
    verified = CliRunner().invoke(cli, ["verify", str(model), "--trusted-key", str(key[1])])
    assert verified.exit_code == 0 and "version 5" in verified.output
    shown = CliRunner().invoke(cli, ["info", str(model)])
    assert "version 5" in shown.output


def test_verify_answers_what_a_device_with_the_same_policy_would_do(carded, key, capsys):
    """verify takes the rules that judge a file: a rolled-back version, a digest off the
    allow-list and a degraded variant fail it (exit 1, one line) as they fail classify."""
    verify = ["verify", "--trusted-key", key[1]]
    old = _signed(carded, key, 2, folder="old")
    code, line = _stderr_line([*verify, "--min-model-version", f"{NAME}=3", old], capsys)
    assert code == exit_codes.FATAL and "older than the minimum 3" in line
    code, line = _stderr_line([*verify, "--allowed-model-digest", "0" * 64, old], capsys)
    assert code == exit_codes.FATAL and "allow-list" in line
    digest = hashlib.sha256(old.read_bytes()).hexdigest()
    for rule in (["--min-model-version", f"{NAME}=2"], ["--allowed-model-digest", digest]):
        passed = CliRunner().invoke(cli, [str(a) for a in [*verify, *rule, old]])
        assert passed.exit_code == 0, passed.output
    degraded = _signed(carded, key, 3, folder="degraded", parity=_degraded())
    code, line = _stderr_line([*verify, degraded], capsys)
    assert code == exit_codes.FATAL and "flagged this variant degraded" in line
    allowed = CliRunner().invoke(
        cli, [str(a) for a in [*verify, "--allow-degraded-model", degraded]]
    )
    assert allowed.exit_code == 0 and "degraded" in allowed.output


def test_a_table_or_csv_run_says_which_card_values_it_replaced(carded, tmp_path):
    model = carded(NAME, threshold=0.5)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    for output in ("table", "csv"):
        args = ["classify", "-m", model, "--threshold", "0.3", "--format", output, tmp_path]
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        assert "edgexray: card values replaced: threshold 0.5 -> 0.3" in result.stderr
    plain = CliRunner().invoke(cli, ["classify", "-m", str(model), str(tmp_path)])
    assert "replaced" not in plain.stderr


def test_the_service_states_the_identity_its_records_carry(carded, key):
    """GET /v1/model (ServedModel.describe) gives the signer and signed version with the rest of
    the identity: a client can check what decides its images without reading an audit line."""
    pytest.importorskip("fastapi")
    from edgexray.serve.served_model import ServedModel

    served = ServedModel(Classifier(_signed(carded, key, 7, folder="served"), _options(key)))
    try:
        described = served.describe()
    finally:
        served.close()
    assert described["model"] == served.classifier.identity.to_record()
    assert (described["model"]["signer"], described["model"]["version"]) == (
        key_id(raw_public(load_public_key(key[1]))),
        7,
    )
