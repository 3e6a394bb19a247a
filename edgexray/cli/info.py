"""`edgexray info [MODEL]`: print the model card a model file carries, as readable text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgexray.card import ModelCard
from edgexray.cli.options import trusted_key_option
from edgexray.demo import default_model
from edgexray.engines import EngineOptions, open_engine
from edgexray.errors import CardError, EdgexrayError
from edgexray.mediapipe_support import mediapipe_support
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.signing.rules import SIGNATURE_ONLY
from edgexray.signing.verify import Signer, TrustPolicy, describe_signature


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _lines(data: dict[str, Any], indent: str = "") -> list[str]:
    """Nested dicts as indented "key: value" lines; lists of scalars comma-separated; lists of
    dicts one "- " item each. Empty values are left out."""
    lines = []
    for key, value in data.items():
        label = str(key).replace("_", " ")
        if _is_empty(value):
            continue
        if isinstance(value, dict):
            lines.append(f"{indent}{label}:")
            lines.extend(_lines(value, indent + "  "))
        elif isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
            lines.append(f"{indent}{label}:")
            for item in value:
                item_lines = (
                    _lines(item, indent + "    ") if isinstance(item, dict) else [_scalar(item)]
                )
                first = item_lines[0].strip() if item_lines else ""
                lines.append(f"{indent}  - {first}")
                lines.extend(item_lines[1:])
        elif isinstance(value, (list, tuple)):
            lines.append(f"{indent}{label}: {', '.join(_scalar(v) for v in value)}")
        else:
            lines.append(f"{indent}{label}: {_scalar(value)}")
    return lines


def _integrity(model: ModelFile, card: ModelCard) -> list[str]:
    source = "embedded in the file" if model.card_source == "embedded" else "from the JSON sidecar"
    if card.legacy:
        digest = (
            "none: this card has no digest (written by edgexray 0.1), so an edit cannot be detected"
        )
    else:
        digest = f"{card.card_sha256} (checked)"
    checked = "checked against the card" if card.payload_sha256 else "not recorded in the card"
    return [
        f"card: {source}",
        f"card digest: {digest}",
        f"model bytes: {model.payload_size:,} bytes, SHA-256 {checked}",
    ]


def _model_check(card: ModelCard) -> str:
    if card.model_check is not None:
        return card.model_check.describe(card.model_check.notes.get("features", "pooled features"))
    if card.schema_version < 2:
        return f"none (card schema {card.schema_version}; re-export to add it)"
    return "none (the model has no pooled features before its classifier head)"


def _appearance_check(card: ModelCard) -> str:
    if card.appearance_check is not None:
        return card.appearance_check.describe("coarse layouts of the input")
    if card.schema_version < 3:
        return f"none (card schema {card.schema_version}; re-export to add it)"
    chosen = card.model_check.notes.get("appearance_check") if card.model_check else None
    if chosen:
        return f"none ({chosen})"
    return "none (too few calibration images to fit it)"


def _orientation_check(card: ModelCard) -> str:
    if card.orientation_check is not None:
        return card.orientation_check.describe()
    if card.schema_version < 4:
        return f"none (card schema {card.schema_version}; re-export to add it)"
    return "none (the calibration images' layouts disagree)"


def _mediapipe(model: Path, checked: ModelFile, card: ModelCard) -> str:
    """What MediaPipe's ImageClassifier will do with the file (edgexray.mediapipe_support)."""
    if model.suffix.lower() != ".tflite":
        return "not for MediaPipe (it reads .tflite files)"
    support = mediapipe_support(card)
    if "labels" not in checked.entries:
        why = "export it again to add it" if support.runs else "; ".join(support.reasons)
        return f"MediaPipe ImageClassifier: will refuse it: no TFLite Metadata ({why})"
    return support.describe()


def _explanation(model: Path, checked: ModelFile) -> str:
    """How `explain` maps this file's decisions (edgexray.explain): its outputs say, so the file
    is loaded by the engine that runs it; a file no installed engine reads says so."""
    try:
        engine = open_engine(model, EngineOptions(threads=1), content=checked.data)
    except EdgexrayError as exc:
        return f"not known here ({exc})"
    try:
        has_evidence = engine.evidence is not None
    finally:
        engine.close()
    if has_evidence:
        return "class evidence, one inference a map (docs/explain.md)"
    return "occlusion (no class evidence output; docs/explain.md)"


def _trusted(signer: Signer) -> str:
    return f"{signer.describe()}, checked"


@click.command()
@click.argument("model", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
@trusted_key_option
def info(model: Path | None, as_json: bool, trusted_keys: tuple[Path, ...]) -> None:
    """Print the model card of MODEL (embedded, or from its JSON sidecar), after checking the file
    against it. Without MODEL, the bundled demo model's."""
    if model is None:
        model = default_model()
    checked = read_model_file(model)
    # Under a trust policy an unsigned or changed file is refused here, as in every command.
    signature = (
        _trusted(TrustPolicy(trusted_keys, SIGNATURE_ONLY).check(checked))
        if trusted_keys
        else describe_signature(checked)
    )
    card = checked.card
    if card is None:
        raise CardError(
            f"{model}: no model card embedded or beside it; run it with --labels and --normalize"
        )
    if as_json:
        click.echo(card.to_json())
        return
    click.echo(f"{model} ({len(checked.data):,} bytes)")
    click.echo("\n".join(_integrity(checked, card)))
    click.echo(f"signature: {signature}")
    click.echo(f"model check: {_model_check(card)}")
    click.echo(f"orientation check: {_orientation_check(card)}")
    click.echo(f"appearance check: {_appearance_check(card)}")
    click.echo(f"mediapipe: {_mediapipe(model, checked, card)}")
    click.echo(f"explain: {_explanation(model, checked)}")
    fields = card.to_dict()
    for name in (
        "card_sha256",
        "payload_sha256",
        "payload_size",
        "model_check",
        "appearance_check",
        "orientation_check",
    ):
        fields.pop(name, None)
    click.echo("\n".join(_lines(fields)))
