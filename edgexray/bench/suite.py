"""A whole benchmark: the variants (and the Keras model), measured one by one, scored, reported."""

from __future__ import annotations

import importlib.util
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgexray.bench.comparison import (
    FULL_MODEL,
    Comparison,
    comparison_from_probabilities,
    comparison_from_reference,
    find_reference,
    most_exact,
)
from edgexray.bench.dataset import BenchData, load_bench_data
from edgexray.bench.machine import describe_machine
from edgexray.bench.measure import TimingPlan
from edgexray.bench.report import BenchReport
from edgexray.bench.results import build_result
from edgexray.bench.runner import RunOutcome, SubjectSpec, run_isolated
from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.errors import CardError, EdgexrayError, EngineUnavailableError, ModelError
from edgexray.extras import install_hint
from edgexray.model_identity import bytes_sha256
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.preprocessing import Preprocessor
from edgexray.signing.rules import SIGNATURE_ONLY
from edgexray.signing.verify import TrustPolicy

KERAS_ROWS = ("keras-predict", "keras-tf-function")
# The row whose probabilities are "the full model" for parity: how the model was validated.
KERAS_REFERENCE_ROW = "keras-predict"

Progress = Callable[[str], None]
# Seconds one measuring process may take before its row fails (a hung engine must not hang the run).
DEFAULT_TIMEOUT_S = 900.0
# Above this, the preprocessed images are not saved for the children (each decodes its own): a data
# folder of thousands of large images must not fill a device's small disk.
TENSOR_FILE_LIMIT_BYTES = 1 << 30


@dataclass(frozen=True)
class BenchRequest:
    """models: exported variant files. data: image folder. reference: a saved `.reference.json`
    (None: look beside the models). keras: the full model file, timed and used as the reference.
    threads: engine threads (None = one per usable core). limit: use at most this many data images.
    overrides: card facts given by the user (--labels, --normalize...), applied to every model, as
    `edgexray classify` applies them; they let bench measure models without a card. timeout_s:
    seconds each measuring process may take; past it, that row fails and the run goes on.
    trusted_keys: public key files; when given, every model must be signed by one of them (checked
    on the bytes read once, before anything is measured: UntrustedModelError)."""

    models: tuple[Path, ...]
    data: Path
    reference: Path | None = None
    keras: Path | None = None
    threads: int | None = None
    plan: TimingPlan = field(default_factory=TimingPlan)
    limit: int | None = None
    overrides: CardOverrides = field(default_factory=CardOverrides)
    timeout_s: float = DEFAULT_TIMEOUT_S
    trusted_keys: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if not self.models and self.keras is None:
            raise ValueError("give at least one model")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout_s}")
        if self.reference is not None and self.keras is not None:
            raise ValueError("give --reference or --keras, not both")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")


@dataclass(frozen=True)
class BenchModel:
    """One model file as bench read it, once: `checked` (its bytes, checked against the card and,
    under a trust policy, its signature), the card it runs with, and the SHA-256 of those bytes,
    which every measuring child checks (SubjectSpec.sha256) instead of trusting the file again."""

    checked: ModelFile
    card: ModelCard
    sha256: str

    @property
    def path(self) -> Path:
        return self.checked.path


def read_model(
    model: Path, overrides: CardOverrides, trusted_keys: tuple[Path, ...] = ()
) -> BenchModel:
    """`model` read once and checked (UntrustedModelError under a trust policy it fails), with the
    card it runs with: its own, or, when it has none or the user overrides part of it, the one
    `Classifier` resolves from these bytes (a card-less model's input size is read from its
    tensors). CardError when it has no card and the overrides do not make one."""
    if not model.is_file():
        raise ModelError(f"{model}: model file not found")
    checked = read_model_file(model)
    if trusted_keys:
        # The signature alone: a variant the gate flagged degraded is measured too.
        TrustPolicy(trusted_keys, SIGNATURE_ONLY).check(checked)
    card = checked.card
    if card is None or overrides.given():
        # One thread and no decode worker: this load only reads tensors; the timed one is in a child.
        options = ClassifierOptions(threads=1, decode_workers=0)
        with Classifier(model, options, overrides, checked=checked) as classifier:
            card = classifier.card
    return BenchModel(checked, card, bytes_sha256(checked.data))


def read_models(
    models: tuple[Path, ...],
    overrides: CardOverrides | None = None,
    trusted_keys: tuple[Path, ...] = (),
) -> list[BenchModel]:
    """Every model read once (see read_model): ModelError/CardError when one is missing, has no
    card and no --labels/--normalize, or when their labels differ (they would not be the same
    classifier); UntrustedModelError under a trust policy one fails."""
    read = [read_model(model, overrides or CardOverrides(), trusted_keys) for model in models]
    if len({model.card.labels for model in read}) > 1:
        raise CardError("the models have different labels; bench compares variants of one model")
    return read


def read_cards(models: tuple[Path, ...], overrides: CardOverrides | None = None) -> list[ModelCard]:
    """The card every model runs with (see read_models)."""
    return [model.card for model in read_models(models, overrides)]


def variant_specs(
    models: tuple[Path, ...],
    cards: list[ModelCard],
    overrides: CardOverrides | None = None,
    digests: Sequence[str | None] | None = None,
) -> list[SubjectSpec]:
    """One row per model, named after its card's variant (the file name when that repeats or the
    model has no card); each child applies `overrides` as the parent did to resolve `cards`, and
    refuses a file whose bytes are no longer those of `digests` (BenchModel.sha256)."""
    names = [card.variant for card in cards]
    digests = digests or [None] * len(models)
    specs = []
    for model, card, digest in zip(models, cards, digests, strict=True):
        unique = names.count(card.variant) == 1 and card.variant not in ("unknown", "uncarded")
        name = card.variant if unique else model.name
        specs.append(
            SubjectSpec(
                name,
                "edgexray",
                model,
                model.suffix.lstrip(".").lower(),
                overrides=overrides or CardOverrides(),
                sha256=digest,
            )
        )
    return specs


def keras_specs(keras: Path, card: ModelCard) -> list[SubjectSpec]:
    """The full model timed both ways; EngineUnavailableError without TensorFlow."""
    if importlib.util.find_spec("tensorflow") is None:
        raise EngineUnavailableError(
            f"--keras needs TensorFlow, which is not installed: {install_hint('export')}"
        )
    if not keras.exists():
        raise ModelError(f"{keras}: Keras model not found")
    return [SubjectSpec(name, name, keras, "keras", card, "full-model") for name in KERAS_ROWS]


def preprocess_once(
    data: BenchData,
    cards: list[ModelCard],
    folder: Path,
    max_bytes: int = TENSOR_FILE_LIMIT_BYTES,
) -> Path | None:
    """The data images preprocessed as the cards say, saved as float32 (N, H, W, C) .npy in
    `folder`, for every child's parity pass; None when the cards preprocess differently or the file
    would exceed `max_bytes` (each child then decodes the images itself). Written one image at a
    time: this process never holds more than one preprocessed image, however many there are."""
    preprocessors = {Preprocessor.from_card(card) for card in cards}
    if len(preprocessors) != 1:
        return None
    (preprocessor,) = preprocessors
    shape = (len(data.files), preprocessor.height, preprocessor.width, preprocessor.channels)
    if 4 * math.prod(shape) > max_bytes:
        return None
    path = Path(folder) / "images.npy"
    with path.open("wb") as out:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False}
        np.lib.format.write_array_header_1_0(out, {**header, "shape": shape})
        for file in data.files:
            out.write(np.ascontiguousarray(preprocessor(file), dtype="<f4").tobytes())
    return path


def measure_all(
    specs: list[SubjectSpec],
    data: BenchData,
    plan: TimingPlan,
    threads: int | None,
    progress: Progress = lambda _: None,
    tensors: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[RunOutcome]:
    """Each spec measured in its own process, in order (see preprocess_once for `tensors`), each
    process killed after `timeout_s` seconds (its row then fails, the others go on); with
    plan.processes > 1, all specs once per round, so that a slow spell of the machine spreads over
    the rows, and each row keeps its run with the median latency (see _median_run)."""
    runs: list[list[RunOutcome]] = [[] for _ in specs]
    for round_index in range(plan.processes):
        for spec, outcomes in zip(specs, runs, strict=True):
            of = f", process {round_index + 1} of {plan.processes}" if plan.processes > 1 else ""
            progress(f"measuring {spec.name} ({spec.path.name}{of})")
            outcomes.append(
                run_isolated(spec, list(data.files), plan, threads, tensors, timeout_s=timeout_s)
            )
    return [_median_run(outcomes) for outcomes in runs]


def _median_run(outcomes: list[RunOutcome]) -> RunOutcome:
    """The run with the median single-image latency (for an even count, the slower of the middle
    two). A row any of whose processes failed is a failed row: a crash in one of three runs is a
    fact about the model on this device, not noise to average away."""
    failed = [o for o in outcomes if o.measurement is None]
    if failed:
        if len(outcomes) == 1:
            return failed[0]
        return RunOutcome(
            failed[0].spec,
            error=f"{len(failed)} of {len(outcomes)} processes failed: {failed[0].error}",
        )
    ranked = sorted(outcomes, key=lambda o: o.measurement.latency_ms.p50 if o.measurement else 0.0)
    return ranked[len(ranked) // 2]


def variant_comparison(outcomes: list[RunOutcome]) -> Comparison | None:
    """When no full-model reference covers the data: the most exact variant measured (fp32 before
    fp16, the first given among equals) stands in for it, so the others still get an agreement.
    None when there is no such variant, or nothing else to compare with it."""
    measured = [(o, o.measurement) for o in outcomes if o.measurement is not None]
    variants = [(o, m) for o, m in measured if o.spec.role == "variant"]
    chosen = most_exact([m.card.variant for _, m in variants])
    if chosen is None or len(measured) < 2:
        return None
    best, measurement = variants[chosen]
    return comparison_from_probabilities(
        measurement.probabilities,
        str(best.spec.path),
        against=best.spec.name,
        stand_in=True,
    )


def keras_comparison(outcomes: list[RunOutcome]) -> Comparison | None:
    """The full model's probabilities from its `keras-predict` row, if it was measured."""
    for outcome in outcomes:
        if outcome.spec.name == KERAS_REFERENCE_ROW and outcome.measurement is not None:
            return comparison_from_probabilities(
                outcome.measurement.probabilities,
                f"{outcome.spec.path} (Keras model.predict)",
                against=f"{FULL_MODEL} (Keras)",
            )
    return None


class NoReferenceError(EdgexrayError):
    """A recommendation was asked for, but nothing can be measured to compare the variants with:
    no saved reference covers the images, no Keras model, no fp32/fp16 variant to stand in."""


@dataclass(frozen=True)
class ComparisonPlan:
    """What bench and bench --sweep compare the variants with, chosen the same way for both:
    the full model's probabilities saved by export when they cover the data images (`saved`),
    else the Keras row measured now (`keras`), else the most exact variant measured (fp32, then
    fp16: `stand_in`, its card variant), when there is another row to compare with it."""

    saved: Comparison | None
    keras: bool
    stand_in: str | None
    rows: int

    @property
    def possible(self) -> bool:
        """Whether the plan can give a comparison, if the rows it needs are measured."""
        return self.saved is not None or self.keras or (self.stand_in is not None and self.rows > 1)

    def require(self, data: BenchData) -> None:
        """NoReferenceError (before anything is measured) when no comparison is possible."""
        if self.possible:
            return
        why = (
            "no fp32 or fp16 variant is given to stand in for the full model"
            if self.stand_in is None
            else f"the {self.stand_in} variant, which would stand in for it, is the only row"
        )
        raise NoReferenceError(
            "--recommend has nothing to measure agreement against: no saved reference covers "
            f"the images of {data.folder} and {why} (add -m NAME.tflite-fp32.tflite, or give "
            "--reference NAME.reference.json or --keras MODEL)"
        )

    def choose(self, outcomes: list[RunOutcome]) -> Comparison | None:
        """The comparison, once `outcomes` are measured (a failed Keras row gives way to the
        stand-in variant); None when no row it could use was measured."""
        if self.saved is not None:
            return self.saved
        measured = keras_comparison(outcomes) if self.keras else None
        return measured if measured is not None else variant_comparison(outcomes)


def require_comparison(report: BenchReport) -> None:
    """NoReferenceError after measuring when the report has no comparison although one was
    planned (the row that was to be the reference failed): a recommendation needs one."""
    if report.comparison is None:
        raise NoReferenceError(
            "--recommend has nothing to measure agreement against: the row that was to be the "
            "reference could not be measured (its error is in the table)"
        )


def plan_comparison(
    request: BenchRequest,
    cards: list[ModelCard],
    data: BenchData,
    rows: int,
    progress: Progress = lambda _: None,
) -> ComparisonPlan:
    """The ComparisonPlan of `request` over `rows` measured rows: the saved reference is read
    now (ModelError when its labels differ from the models'), before any row is measured."""
    reference = request.reference or (
        None if request.keras else find_reference(list(request.models), cards)
    )
    saved = None
    if reference is not None:
        saved = comparison_from_reference(reference, data.files, cards[0].labels)
        if saved is None:
            progress(
                f"none of the {len(data.files)} images is in {reference}: agreement is measured "
                "against the most exact variant instead"
            )
    chosen = most_exact([card.variant for card in cards])
    stand_in = None if chosen is None else cards[chosen].variant
    return ComparisonPlan(saved, request.keras is not None, stand_in, rows)


def assemble_report(
    outcomes: list[RunOutcome],
    data: BenchData,
    comparison: Comparison | None,
    plan: TimingPlan,
    threads: int | None,
    swept: bool = False,
) -> BenchReport:
    """Score every outcome and put the rows together with the machine description (`swept`:
    the rows ran at 1 to `threads` threads, see describe_machine)."""
    rows = tuple(build_result(outcome, comparison, data.truth) for outcome in outcomes)
    return BenchReport(
        machine=describe_machine(threads, swept),
        plan=plan,
        data={
            "folder": str(data.folder),
            "images": len(data.files),
            "labelled": data.labelled,
            "labels": list(data.labels),
        },
        comparison={
            "source": comparison.source,
            "images": comparison.images,
            "against": comparison.against,
            "stand_in": comparison.stand_in,
        }
        if comparison
        else None,
        results=rows,
    )


def run_bench(
    request: BenchRequest, progress: Progress = lambda _: None, require_reference: bool = False
) -> BenchReport:
    """Everything `edgexray bench` does between parsing flags and writing outputs. With
    require_reference (for --recommend), NoReferenceError before measuring when nothing could
    be compared with the variants (see ComparisonPlan)."""
    models = read_models(request.models, request.overrides, request.trusted_keys)
    cards = [model.card for model in models]
    card = cards[0] if cards else None
    if card is None:
        raise CardError("bench needs at least one exported model to read the preprocessing from")
    data = load_bench_data(request.data, card.labels, request.limit)
    specs = keras_specs(request.keras, card) if request.keras else []
    digests = [model.sha256 for model in models]
    specs += variant_specs(request.models, cards, request.overrides, digests)
    plan = plan_comparison(request, cards, data, len(specs), progress)
    if require_reference:
        plan.require(data)
    with tempfile.TemporaryDirectory(prefix="edgexray-bench-") as folder:
        progress(f"preprocessing {len(data.files)} images")
        tensors = preprocess_once(data, cards, Path(folder))
        outcomes = measure_all(
            specs, data, request.plan, request.threads, progress, tensors, request.timeout_s
        )
    return assemble_report(outcomes, data, plan.choose(outcomes), request.plan, request.threads)
