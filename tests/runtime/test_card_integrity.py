"""A damaged or edited card is refused, never taken for "no card"; a card without a digest (legacy)
is refused unless the user accepts the risk, and then every record says so."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, run_edgexray, tiny_card
from edgexray_export.model_check_fit import (
    ModelCheckConfig,
    fit_appearance_check,
    fit_model_check,
    fit_orientation_check,
)
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.card import ModelCard
from edgexray.errors import CardError, DamagedCardError
from edgexray.modelfile import (
    read_card,
    read_model_file,
    reseal_card,
    sidecar_path,
    write_card,
    write_entries,
)
from edgexray.modelfile.tflite_format import CARD_MEMBER

REPO = Path(__file__).resolve().parents[2]


def _cut(path: Path, n: int = 50) -> Path:
    cut = path.with_name("cut" + path.suffix)
    cut.write_bytes(path.read_bytes()[:-n])
    return cut


@pytest.mark.parametrize("filename", ["binary_gray.tflite", "binary_gray.onnx"])
def test_a_cut_file_had_a_card_and_is_refused_without_suggesting_values(carded, filename):
    cut = _cut(carded(filename, normalize="imagenet"))
    with pytest.raises(DamagedCardError, match="damaged"):
        read_card(cut)
    result = run_edgexray(
        "classify", "-m", str(cut), "--labels", "A,B", "--normalize", "unit", str(DATA)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "damaged" in lines[0]
    assert "--normalize" not in lines[0] and "unit" not in lines[0]


def test_flipped_bytes_inside_the_tflite_card_are_caught(carded):
    path = carded("binary_gray.tflite")
    data = bytearray(path.read_bytes())
    member = data.rfind(CARD_MEMBER.encode())  # central directory; the local header comes first
    local = data.find(CARD_MEMBER.encode())
    assert 0 < local < member
    for offset in range(local + len(CARD_MEMBER) + 5, local + len(CARD_MEMBER) + 9):
        data[offset] ^= 0x55  # inside the deflated card text
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedCardError):
        read_card(path)


def test_an_onnx_card_edited_in_place_with_the_same_length_is_caught(carded):
    path = carded("binary_gray.onnx", normalize="imagenet")
    data = path.read_bytes()
    edited = data.replace(b'"normalize": "imagenet"', b'"normalize": "unit"    ')
    assert len(edited) == len(data) and edited != data
    path.write_bytes(edited)
    with pytest.raises(DamagedCardError, match="edited or damaged"):
        read_card(path)


def test_an_edited_sidecar_is_caught(tmp_path):
    path = tmp_path / "plain.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    write_card(path, tiny_card("binary_gray", normalize="imagenet"))
    shutil.copy(DATA / "binary_gray.tflite", path)  # plain model again: the sidecar is the card
    sidecar = sidecar_path(path)
    sidecar.write_text(sidecar.read_text().replace('"imagenet"', '"unit"'))
    with pytest.raises(DamagedCardError, match="edited or damaged"):
        read_card(path)


EDITS = {
    "labels": ["NORMAL", "OTHER"],
    "task": "multiclass",
    "input_height": 17,
    "input_width": 15,
    "input_channels": 3,
    "normalize": "unit",
    "interpolation": "area",
    "output_kind": "logits",
    "threshold": 0.31,
    "name": "other",
    "variant": "tflite-fp32",
    "source_sha256": "0" * 64,
    "parity": {"agreement": 0.5, "max_abs_diff": 0.1, "mean_abs_diff": 0.01, "images": 3},
    "quantization": {"ladder": 1},
    "training_data": "other data",
    "intended_use": "anything",
    "tool_versions": {"edgexray": "9"},
    "created": "2020-01-01",
    "payload_sha256": "1" * 64,
    "payload_size": 5,
    "views": ["PA"],  # left out of the card when None: adding it is an edit too
    # Schema 2, left out when None like `views`: adding a model check is an edit too.
    "model_check": asdict(  # type: ignore[arg-type]
        fit_model_check(
            np.random.default_rng(0).normal(size=(40, 6)), ModelCheckConfig(components=3)
        )
    ),
    # Schema 3, likewise: adding an appearance check is an edit.
    "appearance_check": asdict(  # type: ignore[arg-type]
        fit_appearance_check(
            np.random.default_rng(0).uniform(size=(40, 16, 16, 1)), ModelCheckConfig(components=3)
        )
    ),
    # Where export took `normalize` from, left out when None: recording one is an edit too.
    "normalize_source": "flag --normalize",
    # Schema 4, left out when None: adding an orientation check is an edit.
    "orientation_check": asdict(  # type: ignore[arg-type]
        fit_orientation_check(
            np.random.default_rng(0).uniform(size=(8, 16, 16, 1))
            + np.linspace(0, 1, 16)[:, None, None]
        )
    ),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edit_of_any_card_field_is_caught(name):
    card = tiny_card("binary_gray", normalize="imagenet", threshold=0.3).sealed()
    edited = card.to_dict()
    edited.pop("color_mode")
    assert edited.get(name) != EDITS[name]
    edited[name] = EDITS[name]
    with pytest.raises(DamagedCardError):
        ModelCard.from_json(json.dumps(edited))


def test_the_edits_cover_every_field():
    sealed = {"card_sha256", "schema_version"}
    assert set(EDITS) == {f.name for f in dataclasses.fields(ModelCard)} - sealed


def test_a_changed_copy_drops_the_digest_and_a_sealed_card_round_trips():
    card = tiny_card("binary_gray").sealed()
    assert not card.legacy
    assert ModelCard.from_json(card.to_json()) == card
    assert card.replace(threshold=0.4).legacy


def downgraded(tmp_path: Path) -> Path:
    """A shipped-style model whose card was edited by hand into an unsealed version-1 card: digest
    deleted, schema_version 1, threshold 0.999, checks removed (issue 24's downgrade)."""
    path = tmp_path / "old.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    sealed = write_card(path, tiny_card("binary_gray", threshold=0.3))
    data = json.loads(sealed.to_json())
    del data["card_sha256"]
    data.update(schema_version=1, threshold=0.999, model_check=None, appearance_check=None)
    write_entries(path, {"card": json.dumps(data)})
    sidecar_path(path).unlink()
    return path


def test_a_card_without_digest_is_refused_unless_the_risk_is_accepted(tmp_path):
    path = downgraded(tmp_path)
    card = read_card(path)
    assert card is not None and card.legacy and card.threshold == 0.999
    with pytest.raises(CardError, match="--allow-unsealed-card"):
        Classifier(path)
    image = str(DATA.parent / "data" / "tiny_reference.npz")  # any path: refused before reading
    refused = run_edgexray("classify", "-m", str(path), image)
    assert refused.returncode == 1 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "no digest" in refused.stderr
    # Accepted: every record of the run says the card is legacy and carries no digest.
    with Classifier(path, ClassifierOptions(allow_unsealed_card=True)) as clf:
        assert clf.identity.card == "legacy" and clf.identity.card_sha256 is None
        assert clf.card.threshold == 0.999


def test_the_unsealed_card_run_says_legacy_in_every_record_and_audit_line(tmp_path):
    path = downgraded(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16), 60 * i + 40, np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    audit = tmp_path / "audit.jsonl"
    done = run_edgexray(
        "classify", "-m", str(path), "--allow-unsealed-card", "--input-check", "off",
        "--format", "jsonl", "--audit", str(audit), str(folder),
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # the broken file
    records = [json.loads(line) for line in done.stdout.splitlines()]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == len(lines) == 3
    for entry in (*records, *lines):
        assert entry["model"]["card"] == "legacy" and entry["model"]["card_sha256"] is None
    assert all(line["model"]["threshold"] == 0.999 for line in lines)


def test_info_says_no_digest_and_reseal_seals(tmp_path):
    path = downgraded(tmp_path)
    result = run_edgexray("info", str(path))
    assert result.returncode == 0, result.stderr
    assert "no digest" in result.stdout
    reseal_card(path)
    assert not read_card(path).legacy
    assert read_model_file(path).payload == (DATA / "binary_gray.tflite").read_bytes()


def test_every_override_is_recorded_as_card_value_then_value_used(carded):
    model = carded("binary_gray.tflite", threshold=0.3)
    done = run_edgexray(
        "classify", "-m", str(model), "--threshold", "0.8", "--input-check", "off",
        "--format", "json", str(DATA.parent / "data" / "quadrant.tflite"),
    )  # fmt: skip
    # The input is not an image (an error record), which still names the model that would decide.
    (record,) = json.loads(done.stdout)
    assert record["model"]["overrides"] == {"threshold": {"card": 0.3, "used": 0.8}}
    assert record["model"]["threshold"] == 0.8 and record["model"]["card"] == "sealed"


def test_entries_travel_beside_the_card(carded):
    for filename in ("binary_gray.tflite", "three_rgb.onnx"):
        path = carded(filename)
        card = read_card(path)
        write_card(path, card, entries={"signature": '{"sig": "abc"}'})
        model = read_model_file(path)
        assert model.entries["signature"] == '{"sig": "abc"}'
        assert model.card == card
        assert model.payload == (DATA / filename).read_bytes()


def test_the_engine_is_not_created_before_the_card_is_checked(carded, monkeypatch):
    import edgexray.classifier

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine was created before the card was checked")

    monkeypatch.setattr(edgexray.classifier, "open_engine", no_engine)
    with pytest.raises(DamagedCardError):
        Classifier(_cut(carded("binary_gray.tflite")))


def test_shipped_models_carry_sealed_cards():
    models = sorted((REPO / "models").glob("*/*.tflite")) + sorted(
        (REPO / "models").glob("*/*.onnx")
    )
    assert models
    for path in models:
        card = read_card(path)
        assert card is not None and not card.legacy, path
