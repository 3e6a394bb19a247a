"""`export_model`: a trained Keras model -> deployable variants, each proven by the parity gate.

Scripts call `export_model`; the `edgexray export` command is a thin wrapper around it. Steps:
load the model safely, pick calibration and held-out parity images, run Keras (float, inference
mode) on them, convert each variant, embed its card, run it through the edgexray runtime on the
same preprocessed tensors, and compare. Writes into out_dir, for a model named NAME:
  NAME.<variant>.tflite|.onnx  (card embedded) and NAME.<variant>.json (card sidecar),
  NAME.reference.json          (Keras probabilities on the parity images, for later re-checks),
  NAME.parity.json             (the parity report).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.appearance_choice import choose_appearance
from edgexray_export.calibration import (
    CalibrationImage,
    CalibrationSplit,
    load_tensors,
    split_images,
)
from edgexray_export.class_evidence import class_evidence
from edgexray_export.errors import ExportError, ParityError
from edgexray_export.explain.parity import (
    EXPLANATION_IMAGES,
    ReferenceMaps,
    explanation_parity,
    reference_maps,
)
from edgexray_export.feature_tap import MAP_STATISTICS, feature_model, keras_features
from edgexray_export.keras_loading import (
    KerasModelInfo,
    LoadedKerasModel,
    in_batches,
    load_keras_model,
)
from edgexray_export.metric_gate import MetricGate
from edgexray_export.model_check_fit import (
    APPEARANCE_CONFIG,
    WEAK_BELOW,
    ModelCheckConfig,
    OrientationConfig,
    fit_appearance_check,
    fit_model_check,
    fit_orientation_check,
)
from edgexray_export.model_check_layer import (
    HEAD_INPUT,
    LayerChoiceConfig,
    choose_layer,
    generated_non_chest,
)
from edgexray_export.normalization import choose_normalization
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.report import ExportReport, VariantResult, format_table
from edgexray_export.staging import promote, staged
from edgexray_export.threshold_retune import matching_threshold
from edgexray_export.variants import DEFAULT_VARIANTS, VARIANTS, ConversionInput

from edgexray import exit_codes
from edgexray.card import ModelCard, Parity
from edgexray.engines.outputs import EngineOutputs
from edgexray.errors import EdgexrayError
from edgexray.modelcheck import ModelCheckSummary, appearance_features
from edgexray.modelfile import sidecar_path, write_card
from edgexray.parity import feature_parity, measure_parity
from edgexray.postprocess import to_probabilities
from edgexray.preprocessing import Preprocessor
from edgexray.reference import (
    Reference,
    ReferenceImage,
    file_sha256,
    reference_path,
    write_reference,
)

DEFAULT_CALIBRATION_SIZE = 300
DEFAULT_MIN_AGREEMENT = 0.99
DEFAULT_QUALITY_TARGET = 0.995
# Tool name -> the distributions that provide it (TensorFlow ships under several names).
_TOOLS = {
    "edgexray": ("edgexray",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
    "keras": ("keras",),
    "tf2onnx": ("tf2onnx",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "ai-edge-litert": ("ai-edge-litert",),
}

Progress = Callable[[str], None]


class ParityGateError(ParityError):
    """One or more variants fell below the gate; `report` holds every variant's figures."""

    exit_code = exit_codes.PARITY

    def __init__(self, message: str, report: ExportReport) -> None:
        super().__init__(message)
        self.report = report


def _quiet(_: str) -> None:
    """Default progress sink: scripts that want progress pass their own."""


def _tool_versions() -> dict[str, str]:
    versions = {}
    for tool, distributions in _TOOLS.items():
        for distribution in distributions:
            try:
                versions[tool] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _choose_variants(variants: Sequence[str] | None) -> list[str]:
    chosen = list(DEFAULT_VARIANTS) if not variants else [v.strip() for v in variants if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or not chosen:
        raise ExportError(
            f"unknown variant(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(VARIANTS)}"
        )
    return list(dict.fromkeys(chosen))


def _labels(
    given: Sequence[str] | None, split: CalibrationSplit, info: KerasModelInfo
) -> tuple[str, ...]:
    labels = tuple(given) if given else split.class_names
    if not labels:
        raise ExportError(
            "no labels: the calibration images are not in class sub-folders, so give --labels A,B,..."
        )
    expected = 2 if info.output_units == 1 else info.output_units
    if len(labels) != expected:
        head = (
            "a binary (1-unit) head" if info.output_units == 1 else f"{info.output_units} outputs"
        )
        raise ExportError(
            f"the model has {head} and needs {expected} labels, got {len(labels)}: "
            f"{', '.join(labels)}; give them with --labels"
        )
    return labels


def _base_card(
    info: KerasModelInfo,
    labels: tuple[str, ...],
    *,
    normalize: str | None,
    interpolation: str,
    threshold: float | None,
    outputs: str | None,
    training_data: str,
) -> ModelCard:
    """The card every variant shares; each variant adds its name, quantization notes and parity.
    ExportError when `normalize` is not given and the model's graph does not state it."""
    normalization = choose_normalization(normalize, info.normalization)
    try:
        return ModelCard(
            labels=labels,
            task="binary" if info.output_units == 1 else "multiclass",
            input_height=info.input_height,
            input_width=info.input_width,
            input_channels=info.input_channels,
            normalize=normalization.value,  # type: ignore[arg-type]
            normalize_source=normalization.source,
            interpolation=interpolation,  # type: ignore[arg-type]
            output_kind=outputs or info.output_kind,  # type: ignore[arg-type]
            threshold=threshold,
            name=info.name,
            variant="keras",
            source_sha256=info.source_sha256,
            training_data=training_data,
            tool_versions=_tool_versions(),
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )
    except EdgexrayError as exc:
        raise ExportError(str(exc)) from None


def _reference(
    split: CalibrationSplit,
    labels: tuple[str, ...],
    probabilities: np.ndarray,
    info: KerasModelInfo,
) -> Reference:
    images = tuple(
        ReferenceImage(image.relative, file_sha256(image.path), image.class_name)
        for image in split.parity
    )
    return Reference(labels, images, probabilities, info.source_sha256)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    sidecar_path(path).unlink(missing_ok=True)


def _convert(variant: str, job: ConversionInput, path: Path) -> dict[str, object]:
    """Run one converter; any failure inside TF/tf2onnx/ORT becomes an ExportError for this variant."""
    try:
        return VARIANTS[variant]().convert(job, path)
    except EdgexrayError:
        raise
    except Exception as exc:  # converters raise many unrelated types; the report needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"conversion failed: {type(exc).__name__}: {first}") from exc


def _with_explanation_parity(
    parity: Parity, maps: ReferenceMaps, path: Path, card: ModelCard
) -> Parity:
    """`parity` with the variant's explanation parity against the Keras model's maps."""
    from edgexray import Classifier

    with Classifier(path) as classifier:
        evidence = classifier.class_evidence if classifier.has_class_evidence else None
        correlation, overlap, images = explanation_parity(
            maps, classifier.predict_tensor, card, evidence=evidence
        )
    return dataclasses.replace(
        parity,
        explanation_rank_correlation=correlation,
        explanation_top_overlap=overlap,
        explanation_images=images,
    )


def _keras_class_evidence(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The Keras model's class evidence on a batch (export/class_evidence.py), as every variant
    will give it; None when its head has none."""
    import keras

    evidence = class_evidence(model)
    if evidence is None:
        return None
    evidence_model = keras.Model(model.inputs, evidence)
    return lambda x: in_batches(lambda b: evidence_model(b, training=False), x)


def _staged(path: Path, judge: Callable[[Path], VariantResult]) -> VariantResult:
    """`judge`'s result for the variant written under a temporary name (edgexray_export.staging)
    and renamed to `path` only once the gate has passed it or recorded it as degraded; an
    exception from anywhere leaves no file under `path`."""
    _remove(path)  # a file from an earlier export must not pass for this one's
    with staged(path) as temporary:
        result = judge(temporary)
        if result.path is None:
            return result
        promote(temporary, path)
    return dataclasses.replace(result, path=path)


def _standard_metadata(path: Path, card: ModelCard) -> dict[str, str]:
    """A .tflite file gets standard TFLite Metadata (for MediaPipe) in its model bytes; returns the
    container entries that go beside the card (its labels.txt). Nothing for ONNX files."""
    if path.suffix != ".tflite":
        return {}
    from edgexray_export.variants import tflite_metadata

    tflite_metadata.add_metadata(path, card)
    return {tflite_metadata.LABELS_ENTRY: tflite_metadata.labels_text(card)}


def _export_one(
    variant: str,
    job: ConversionInput,
    path: Path,
    parity_x: np.ndarray,
    reference: np.ndarray,
    truth: np.ndarray | None,
    min_agreement: float,
    allow_degraded: bool,
    maps: ReferenceMaps | None = None,
    retune: bool = False,
    checks: _FeatureChecks | None = None,
) -> VariantResult:
    """Convert, embed the card, run through the runtime, gate. Never raises for a bad variant."""
    from edgexray import Classifier

    card = job.card
    summary: ModelCheckSummary | None = None
    features_parity: dict[str, Any] = {}
    try:
        notes = _convert(variant, job, path)
        entries = _standard_metadata(path, job.card.replace(variant=variant))
        write_card(path, job.card.replace(variant=variant, quantization=notes), entries=entries)
        with Classifier(path) as classifier:
            outputs = _infer_in_batches(classifier, parity_x)
            probabilities = to_probabilities(outputs.prediction, classifier.card)
            if checks is not None:
                features_parity, summary = checks.measure(
                    classifier, outputs.features, job.calibration
                )
            if retune:
                card = _retuned(job, classifier.predict_tensor(job.calibration))
            # What the file's tensors are, as the runtime sees them: every card says it.
            tensors = {
                "input_type": classifier.engine.input.dtype.name,
                "output_type": classifier.engine.output.dtype.name,
            }
        notes = {**tensors, **notes}
    except (EdgexrayError, ValueError, RuntimeError, OSError) as exc:
        _remove(path)
        # One line; long enough for a control run's finding with a converter's tensor name.
        return VariantResult(variant, "failed", error=" ".join(str(exc).split())[:300])
    parity = measure_parity(
        reference,
        probabilities,
        job.card,
        true_labels=truth,
        min_agreement=min_agreement,
        variant_card=card,
    )
    if card.threshold != job.card.threshold:
        parity = dataclasses.replace(parity, reference_threshold=job.card.decision_threshold)
    if job.metric_gate is not None and truth is not None:
        check = job.metric_gate.check(reference, probabilities, truth, job.card, card)
        parity = dataclasses.replace(parity, **job.metric_gate.parity_fields(check))
    if maps is not None:
        parity = _with_explanation_parity(parity, maps, path, card)
    below = parity.agreement < min_agreement or parity.metric_passed is False
    if below and not allow_degraded:
        _remove(path)
        return VariantResult(variant, "below gate", parity=parity)
    parity = dataclasses.replace(parity, degraded=below, **features_parity)
    card = card.replace(variant=variant, quantization=notes, parity=parity, model_check=summary)
    write_card(path, card, entries=entries)
    status = "degraded" if below else "ok"
    return VariantResult(variant, status, path, path.stat().st_size, parity)


def _infer_in_batches(classifier: Any, x: np.ndarray, size: int = 32) -> EngineOutputs:
    """Both outputs of the variant for `x`, `size` images per engine call: one call for a few
    hundred full-size images would make LiteRT allocate activations for all of them at once."""
    return EngineOutputs.concatenate(
        [classifier.engine.infer(x[i : i + size]) for i in range(0, len(x), size)]
    )


@dataclasses.dataclass(frozen=True)
class _FeatureChecks:
    """The Keras model's pooled features on the parity images, the two-output Keras model they
    come from (feature_model), and how to fit a model check. parity_too: the check is fitted on
    the parity images' features as well as the calibration images' (when the two sets differ:
    every image the user gave counts, which matters most when they are few). appearance_note: why
    the appearance check is in the cards or not (edgexray_export.appearance_choice)."""

    reference: np.ndarray
    config: ModelCheckConfig
    two_outputs: Any
    described: str = "pooled features"
    layer_note: dict[str, Any] = dataclasses.field(default_factory=dict)
    parity_too: bool = False
    appearance_note: str = ""

    def keras(self, x: np.ndarray) -> np.ndarray:
        """The Keras model's features of `x`."""
        return keras_features(self.two_outputs, x)

    def measure(
        self, classifier: Any, parity_features: np.ndarray | None, calibration: np.ndarray
    ) -> tuple[dict[str, float], ModelCheckSummary | None]:
        """Feature parity of a variant on the parity images, and its own model check fitted on
        its features of the calibration images, and of the parity images when parity_too (per
        variant: an int8 model's features differ from the float model's, and the device scores
        the features of the file it runs)."""
        own = _infer_in_batches(classifier, calibration).features
        if parity_features is None or own is None:
            raise ExportError("the variant lost its pooled-features output in conversion")
        fitted = np.concatenate([own, parity_features]) if self.parity_too else own
        summary = fit_model_check(fitted, self.config)
        if summary is not None:
            notes = {**summary.notes, "features": self.described}
            if self.layer_note:
                notes["layer_choice"] = self.layer_note
            if self.appearance_note:
                notes["appearance_check"] = self.appearance_note
            summary = dataclasses.replace(summary, notes=notes)
        return feature_parity(self.reference, parity_features), summary


def _retuned(job: ConversionInput, calibration_probabilities: np.ndarray) -> ModelCard:
    """The card with the variant's own threshold: its sensitivity on the labelled calibration
    images matches the full model's at the full model's threshold."""
    if job.calibration_truth is None:  # export_model refuses retuning without labels
        raise ExportError("retuning the threshold needs labelled calibration images")
    full = to_probabilities(job.calibration_reference.astype(np.float32), job.card)
    own = matching_threshold(
        full[:, 1],
        calibration_probabilities[:, 1],
        job.calibration_truth,
        job.card.decision_threshold,
    )
    return job.card.replace(threshold=own)


def _true_indices(images: Sequence[CalibrationImage], labels: tuple[str, ...]) -> np.ndarray | None:
    """Class index per image when every image sits in a class folder named like a label."""
    index = {label: i for i, label in enumerate(labels)}
    if not images or not all(image.class_name in index for image in images):
        return None
    return np.array([index[str(image.class_name)] for image in images], dtype=np.int64)


def export_model(
    model_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    calibration_dir: str | os.PathLike[str],
    variants: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    normalize: str | None = None,
    interpolation: str = "bilinear",
    threshold: float | None = None,
    outputs: str | None = None,
    calibration_size: int = DEFAULT_CALIBRATION_SIZE,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    allow_degraded: bool = False,
    quantization: QuantizationConfig | None = None,
    quality_target: float = DEFAULT_QUALITY_TARGET,
    metric_gate: MetricGate | None = None,
    retune_threshold: bool = False,
    debug_quantization: bool = False,
    training_data: str = "",
    seed: int = 0,
    progress: Progress = _quiet,
    trust_model: bool = False,
    model_check: ModelCheckConfig | None = None,
    appearance_check: ModelCheckConfig | None = None,
    keep_appearance_check: bool = False,
    orientation_check: OrientationConfig | None = None,
    model_check_layer: str | None = None,
    layer_choice: LayerChoiceConfig | None = None,
    verbose: bool = False,
) -> ExportReport:
    """Export the Keras model at `model_path` into `out_dir` and prove each variant against it.

    calibration_dir: images (recursive, optionally in class sub-folders) for int8 calibration and
    the held-out parity check; calibration_size: images sampled from it in total (about half are
    held out for parity). variants: names from VARIANTS (default DEFAULT_VARIANTS: all but
    tflite-int8-io). labels: class names in
    output order (default: the sorted class sub-folder names). normalize/interpolation/threshold:
    go into the card; normalize is required unless the model's graph starts with a Rescaling
    layer or a known keras.applications preprocessing (edgexray_export.normalization), and the
    card's normalize_source says which. outputs: "probabilities" or "logits" to override head detection. min_agreement: top-1
    agreement (0..1) each variant must reach; allow_degraded keeps one below it, flagged in its card.
    quantization: static int8 settings (default per-channel MinMax); quality_target: agreement the
    ONNX int8 variant aims for on the calibration images before better settings are tried.
    metric_gate: the user's metric (needs labelled images): a variant whose metric on the parity
    images drops more than allowed below the Keras model's is below the gate, and the int8
    ladders stop only at a setting that meets it on the calibration images. retune_threshold:
    binary models with labelled images; each variant gets its own threshold, matching the Keras
    model's sensitivity on the calibration images (the Keras threshold goes into its parity).
    debug_quantization: tflite-int8 also writes its per-layer error report (TF's quantization
    debugger) as NAME.tflite-int8.quantization-debug.json and .txt.
    progress: called with one line per step (the CLI prints them to stderr). trust_model: load a
    model that could run code on load (Lambda or custom layers); off, such a model is refused.
    model_check: how each variant's model check is fitted on its own pooled features of the
    calibration images (default ModelCheckConfig()); a model whose head does not read pooled
    (N, D) features is exported without one. appearance_check: how the appearance check is fitted
    on the calibration and parity images' coarse layouts (default APPEARANCE_CONFIG); one summary
    for every variant's card, left out when it refuses no generated non-chest image that the model
    and orientation checks pass (edgexray_export.appearance_choice) unless keep_appearance_check.
    orientation_check: how the orientation check (inverted, upside down) is fitted
    on the calibration and parity images' layouts (default OrientationConfig()); one summary for
    every variant's card. model_check_layer: the model check reads the statistics of this layer's
    feature map (edgexray_export.feature_tap), or the head's input for "head-input"; None: the
    candidate that best separates generated non-chest images from the parity films
    (edgexray_export.model_check_layer, with layer_choice's settings), recorded in the cards. verbose: let the
    converters' own messages through (ONNX Runtime's calibration progress, on stdout).

    Returns the ExportReport (also written to NAME.parity.json). Raises ExportError for unusable
    input, ParityGateError (with .report) when a variant failed or fell below the gate.
    """
    for name, value in (("min agreement", min_agreement), ("quality target", quality_target)):
        if not 0.0 <= value <= 1.0:
            raise ExportError(f"{name} must be between 0 and 1, got {value}")
    chosen = _choose_variants(variants)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    progress(f"loading {model_path}")
    loaded: LoadedKerasModel = load_keras_model(model_path, trust_model)
    info = loaded.info
    split = split_images(Path(calibration_dir), calibration_size, seed=seed)
    label_names = _labels(labels, split, info)
    calibration_truth = _true_indices(split.calibration, label_names)
    labelled = (
        calibration_truth is not None and _true_indices(split.parity, label_names) is not None
    )
    if (metric_gate is not None or retune_threshold) and not labelled:
        flag = "--max-drop" if metric_gate is not None else "--retune-threshold"
        raise ExportError(
            f"{flag} needs labelled images: put the calibration images in class sub-folders "
            f"named like the labels ({', '.join(label_names)})"
        )
    if retune_threshold and info.output_units != 1:
        raise ExportError("--retune-threshold applies only to binary (one sigmoid output) models")
    card = _base_card(
        info,
        label_names,
        normalize=normalize,
        interpolation=interpolation,
        threshold=threshold,
        outputs=outputs,
        training_data=training_data,
    )
    pre = Preprocessor.from_card(card)
    progress(
        f"{info.name}: {info.input_height}x{info.input_width}x{info.input_channels}, "
        f"{card.task} ({', '.join(label_names)}), {card.output_kind} ({info.output_kind_source}), "
        f"normalize {card.normalize} ({card.normalize_source})"
    )
    progress(
        f"reading {len(split.calibration)} calibration and {len(split.parity)} parity images"
        + (" (the same images: folder too small to hold some out)" if split.overlapping else "")
    )
    calibration_x = load_tensors(split.calibration, pre)
    parity_x = load_tensors(split.parity, pre)
    # The input checks are fitted on every image the user gave: the parity images are chest films
    # like the calibration ones, and with a small folder each of them counts.
    check_x = calibration_x if split.overlapping else np.concatenate([calibration_x, parity_x])
    _warn_about_few_images(
        len(check_x),
        model_check or ModelCheckConfig(),
        appearance_check or APPEARANCE_CONFIG,
        progress,
    )
    # The same for every variant: it reads the model input, not the variant's outputs.
    appearance = fit_appearance_check(check_x, appearance_check or APPEARANCE_CONFIG)
    orientation = fit_orientation_check(check_x, orientation_check)
    progress(
        "orientation check: "
        + (
            "none (the calibration images' layouts disagree)"
            if orientation is None
            else orientation.describe()
        )
    )
    card = card.replace(appearance_check=appearance, orientation_check=orientation)
    progress("running the Keras model (float, inference mode) on them")
    calibration_raw = loaded.predict_raw(calibration_x)
    reference = to_probabilities(loaded.predict_raw(parity_x).astype(np.float32), card)
    saved_reference = _reference(split, label_names, reference, info)
    truth = saved_reference.true_label_indices()
    ref_file = write_reference(reference_path(out, info.name), saved_reference)

    keras_evidence = _keras_class_evidence(loaded.model)
    progress(
        f"{'class evidence' if keras_evidence else 'occlusion'} maps of the Keras model on "
        f"{min(EXPLANATION_IMAGES, len(parity_x))} images"
    )
    maps = reference_maps(
        parity_x,
        lambda b: to_probabilities(loaded.predict_raw(b).astype(np.float32), card),
        card,
        evidence=keras_evidence,
    )
    check_config = model_check or ModelCheckConfig()
    choice_config = layer_choice or LayerChoiceConfig()
    count = choice_config.images_per_category
    pixels = np.stack([pre.pixels(image.path) for image in split.calibration[:count]])
    non_chest = pre.normalize_pixels(generated_non_chest(pixels, choice_config))
    model_check_layer, layer_note = _model_check_layer(
        loaded,
        (calibration_x, parity_x, non_chest),
        check_config,
        model_check_layer,
        progress,
    )
    checks = _feature_checks(
        loaded, parity_x, check_config, progress, model_check_layer, layer_note
    )
    calibration_features = None
    if checks is not None:
        calibration_features = checks.keras(calibration_x)
        checks = dataclasses.replace(checks, parity_too=not split.overlapping)
        check_features = (
            np.concatenate([calibration_features, checks.reference])
            if checks.parity_too
            else calibration_features
        )
        card, checks = _appearance_choice(
            card, checks, (check_features, non_chest), keep_appearance_check, progress
        )
    job = ConversionInput(
        source=loaded,
        card=card,
        calibration=calibration_x,
        calibration_reference=calibration_raw,
        quantization=quantization or QuantizationConfig(),
        quality_target=quality_target,
        metric_gate=metric_gate,
        calibration_truth=calibration_truth,
        debug_quantization=debug_quantization,
        model_check_layer=model_check_layer,
        calibration_features=calibration_features,
        calibration_evidence=None if keras_evidence is None else keras_evidence(calibration_x),
        verbose=verbose,
        progress=progress,
    )
    results = []
    for variant in chosen:
        exporter = VARIANTS[variant]
        path = out / f"{info.name}.{variant}{exporter.suffix}"
        progress(f"{variant}: converting and checking parity on {len(parity_x)} images")
        result = _staged(
            path,
            lambda at, variant=variant: _export_one(  # type: ignore[misc]
                variant,
                job,
                at,
                parity_x,
                reference,
                truth,
                min_agreement,
                allow_degraded,
                maps,
                retune=retune_threshold,
                checks=checks,
            ),
        )
        results.append(result)
        progress(f"{variant}: {result.status}")
    report = ExportReport(
        model=str(model_path),
        output_dir=out,
        reference_path=ref_file,
        parity_images=len(split.parity),
        calibration_images=len(split.calibration),
        overlapping_sets=split.overlapping,
        min_agreement=min_agreement,
        results=tuple(results),
    )
    report.write_json(out / f"{info.name}.parity.json")
    _raise_unless_passed(report)
    return report


def _model_check_layer(
    loaded: LoadedKerasModel,
    images: tuple[np.ndarray, np.ndarray, np.ndarray],
    check: ModelCheckConfig,
    given: str | None,
    progress: Progress,
) -> tuple[str | None, dict[str, Any]]:
    """The layer whose feature map the model check reads (None: the head's input) and the card's
    note of why: the user's --model-check-layer, else edgexray_export.model_check_layer's choice
    on `images` (calibration, parity and generated non-chest model inputs)."""
    if given is not None:
        layer = None if given == HEAD_INPUT else given
        return layer, {"chosen": "by the flag --model-check-layer", "layer": given}
    choice = choose_layer(loaded.model, *images, check)
    if choice is None:
        return None, {}
    progress(f"model check layer: {choice.describe()}")
    return choice.layer, choice.note()


def _appearance_choice(
    card: ModelCard,
    checks: _FeatureChecks,
    images: tuple[np.ndarray, np.ndarray],
    keep: bool,
    progress: Progress,
) -> tuple[ModelCard, _FeatureChecks]:
    """The card without its appearance check when that refuses no generated non-chest image the
    model and orientation checks pass (edgexray_export.appearance_choice; `images`: the Keras
    model's features of the images the checks are fitted on, and the generated non-chest model
    inputs), unless `keep`, and the feature checks carrying the note of why for every variant's
    model check."""
    check_features, non_chest = images
    if card.appearance_check is None:
        return card, checks
    model_check = fit_model_check(check_features, checks.config)
    if model_check is None:
        return card, checks
    choice = choose_appearance(
        card.appearance_check,
        card.orientation_check,
        model_check,
        appearance_features(non_chest),
        checks.keras(non_chest),
    )
    note = choice.note()
    if keep and not choice.kept:
        note = f"kept by --keep-appearance-check, though {note.removeprefix('left out: ')}"
    progress(f"appearance check: {note}")
    if not (choice.kept or keep):
        card = card.replace(appearance_check=None)
    return card, dataclasses.replace(checks, appearance_note=note)


def _feature_checks(
    loaded: LoadedKerasModel,
    parity_x: np.ndarray,
    config: ModelCheckConfig,
    progress: Progress,
    map_layer: str | None = None,
    layer_note: dict[str, Any] | None = None,
) -> _FeatureChecks | None:
    two_outputs = feature_model(loaded.model, map_layer)
    if two_outputs is None:
        progress("no pooled (N, D) input to the classifier head: exported without a model check")
        return None
    source = "the head's input" if map_layer is None else f"{map_layer}'s feature map statistics"
    progress(f"model check features: {source}")
    described = (
        "pooled features"
        if map_layer is None
        else f"statistics of {map_layer}'s feature map ({', '.join(MAP_STATISTICS)})"
    )
    return _FeatureChecks(
        keras_features(two_outputs, parity_x), config, two_outputs, described, layer_note or {}
    )


def _warn_about_few_images(
    images: int, model: ModelCheckConfig, appearance: ModelCheckConfig, progress: Progress
) -> None:
    """One warning line when the images the checks are fitted on are too few for the model or
    the appearance check (none below a check's min_images; a weak threshold below WEAK_BELOW,
    which the cards record as well)."""
    said = []
    for name, config in (("model", model), ("appearance", appearance)):
        if images < config.min_images:
            said.append(f"no {name} check (it needs {config.min_images})")
        elif images < WEAK_BELOW:
            said.append(f"a weak {name} check ({config.method} method)")
    if said:
        progress(
            f"warning: {images} calibration and parity images, under {WEAK_BELOW}: "
            f"{' and '.join(said)}; the cards say so. Give a folder and --calibration-size of "
            f"at least {WEAK_BELOW} images"
        )


def _raise_unless_passed(report: ExportReport) -> None:
    problems = []
    for r in report.results:
        if r.status == "failed":
            problems.append(f"{r.variant} failed ({r.error})")
        elif r.status == "below gate" and r.parity is not None:
            p = r.parity
            if p.agreement < report.min_agreement:
                problems.append(
                    f"{r.variant} top-1 agreement {p.agreement:.2%} < {report.min_agreement:.2%}"
                )
            if p.metric_passed is False:
                problems.append(
                    f"{r.variant} {p.metric} {p.metric_variant:.4f} vs the full model's "
                    f"{p.metric_reference:.4f}: drop over the allowed {p.metric_max_drop:g} "
                    f"({p.metric_drop_mode})"
                )
    if problems:
        raise ParityGateError(
            "; ".join(problems)
            + " (variant removed; --allow-degraded keeps a variant below the gate)",
            report,
        )


__all__ = ["ExportReport", "ParityGateError", "export_model", "format_table"]
