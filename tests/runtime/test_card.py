import json

import pytest

from edgexray.card import SCHEMA_VERSION, ModelCard, Parity
from edgexray.errors import CardError


def card(**changes):
    fields = dict(
        labels=("NORMAL", "PNEUMONIA"),
        task="binary",
        input_height=256,
        input_width=256,
        input_channels=1,
        normalize="unit",
    )
    fields.update(changes)
    return ModelCard(**fields)


def test_json_round_trip_keeps_every_field():
    original = card(
        threshold=0.35,
        variant="tflite-int8",
        source_sha256="a" * 64,
        parity=Parity(
            agreement=0.998, max_abs_diff=0.02, mean_abs_diff=0.003, images=500, accuracy=0.95
        ),
        quantization={"per_channel": True, "calibration": "percentile"},
        tool_versions={"tensorflow": "2.21.0"},
    )
    again = ModelCard.from_json(original.to_json())
    assert again == original
    assert json.loads(original.to_json())["color_mode"] == "grayscale"
    assert again.parity.agreement == 0.998


def test_derived_facts():
    assert card().output_units == 1
    assert card().decision_threshold == 0.5
    assert card(threshold=0.2).decision_threshold == 0.2
    three = card(labels=("A", "B", "C"), task="multiclass", input_channels=3)
    assert three.output_units == 3 and three.color_mode == "rgb"


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(labels=("A",)), "at least two labels"),
        (dict(labels=("A", "A")), "labels repeat"),
        (dict(labels=("A", "B", "C")), "exactly two labels"),
        (dict(task="regression"), "task"),
        (dict(input_channels=4), "input_channels must be 1 or 3"),
        (dict(input_height=0), "input_height"),
        (dict(normalize="zscore"), "normalize"),
        (dict(interpolation="lanczos9"), "interpolation"),
        (dict(threshold=1.5), "threshold must be between 0 and 1"),
        (dict(labels=("A", "B", "C"), task="multiclass", threshold=0.5), "only to binary"),
        (dict(payload_sha256="xyz"), "payload_sha256"),
        (dict(schema_version=99), "schema_version 99"),
    ],
)
def test_invalid_cards_are_refused_on_construction(changes, message):
    with pytest.raises(CardError, match=message):
        card(**changes)


def test_from_dict_refuses_unknown_fields_and_versions():
    data = card().to_dict()
    with pytest.raises(CardError, match="unknown field"):
        ModelCard.from_dict({**data, "mystery": 1})
    with pytest.raises(CardError, match="not supported"):
        ModelCard.from_dict({**data, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(CardError, match="disagrees"):
        ModelCard.from_dict({**data, "color_mode": "rgb"})
    with pytest.raises(CardError, match="not valid JSON"):
        ModelCard.from_json("{not json")


def test_replace_validates():
    with pytest.raises(CardError):
        card().replace(threshold=2.0)
    assert card().replace(threshold=0.4).threshold == 0.4


def test_parity_ranges_are_checked():
    with pytest.raises(CardError, match="agreement"):
        Parity(agreement=1.2, max_abs_diff=0, mean_abs_diff=0, images=1)


def test_explanation_parity_is_optional_and_round_trips() -> None:

    base = dict(
        labels=("NORMAL", "PNEUMONIA"),
        task="binary",
        input_height=8,
        input_width=8,
        input_channels=1,
        normalize="unit",
    )
    plain = ModelCard(**base, parity=Parity(1.0, 0.0, 0.0, 4)).sealed()  # type: ignore[arg-type]
    # Unset, the new fields are not written: cards sealed before them keep their digest.
    assert "explanation_rank_correlation" not in plain.to_dict()["parity"]
    assert ModelCard.from_json(plain.to_json()) == plain
    parity = Parity(1.0, 0.0, 0.0, 4, explanation_rank_correlation=0.9, explanation_top_overlap=0.7)
    card = ModelCard(**base, parity=parity).sealed()  # type: ignore[arg-type]
    assert ModelCard.from_json(card.to_json()).parity == parity
    assert card.digest() != plain.digest()
    with pytest.raises(CardError):
        Parity(1.0, 0.0, 0.0, 4, explanation_rank_correlation=1.5)


@pytest.mark.parametrize("name", ["parity", "model_check", "appearance_check", "orientation_check"])
@pytest.mark.parametrize("value", [[1, 2], {"no_such_field": 1}])
def test_a_malformed_section_is_refused_naming_its_field(name, value):
    data = card().to_dict()
    data[name] = value
    with pytest.raises(CardError, match=f"invalid model card: {name} "):
        ModelCard.from_dict(data)
