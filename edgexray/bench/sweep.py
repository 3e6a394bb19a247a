"""`bench --sweep`: every model file on every installed engine that reads it, over thread counts
1 to the usable cores and the precisions this CPU offers (edgexray.precision), each in its own
process; and the fastest of them that keeps an agreement floor. A reduced precision is a row like
any other, with its parity against the full model measured the same way, so it is recommended
only when its agreement was measured and clears the floor.

A file's fastest engine is not the one its suffix picks by default (an int8 QDQ ONNX file can run
twice as fast on OpenVINO as on ONNX Runtime), nor is the fastest thread count always all cores
(small models lose to thread wake-ups): measuring every combination on the device is what finds it.
"""

from __future__ import annotations

import itertools
import platform
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.bench.dataset import load_bench_data
from edgexray.bench.deployment import Deployment
from edgexray.bench.pinned_subjects import PINNED_FACTORIES
from edgexray.bench.recommend import Recommendation, recommend
from edgexray.bench.report import BenchReport
from edgexray.bench.runner import RunOutcome, SubjectSpec, run_isolated
from edgexray.bench.suite import (
    BenchRequest,
    Progress,
    _median_run,
    assemble_report,
    plan_comparison,
    preprocess_once,
    read_models,
)
from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.cores import usable_cores
from edgexray.cpuinfo import read_cpuinfo
from edgexray.engines.registry import ENGINES, available_engines
from edgexray.errors import EngineUnavailableError
from edgexray.precision import EXACT, offered_precisions


def engines_reading(path: Path, installed: Sequence[str]) -> list[str]:
    """The installed engines that read `path`'s file type, in registry order."""
    suffix = path.suffix.lower()
    return [name for name in ENGINES if name in installed and suffix in ENGINES[name].suffixes]


@dataclass(frozen=True)
class SweepPoint:
    spec: SubjectSpec
    deployment: Deployment


def plan_sweep(
    models: Sequence[Path],
    cards: Sequence[ModelCard],
    installed: Sequence[str],
    max_threads: int,
    overrides: CardOverrides | None = None,
    digests: Sequence[str | None] | None = None,
    precisions: Sequence[str] = (EXACT,),
) -> list[SweepPoint]:
    """One point per (file, engine that reads it, threads in 1..max_threads, precision of
    `precisions` that engine runs); each child refuses a file whose bytes are no longer those of
    `digests` (BenchModel.sha256)."""
    points = []
    variants = [card.variant for card in cards]
    digests = digests or [None] * len(models)
    for model, card, digest in zip(models, cards, digests, strict=True):
        unique = variants.count(card.variant) == 1 and card.variant not in ("unknown", "uncarded")
        variant = card.variant if unique else model.name
        for engine in engines_reading(model, installed):
            runs = [p for p in precisions if p in ENGINES[engine].precisions]
            for precision, threads in itertools.product(runs, range(1, max_threads + 1)):
                deployment = Deployment(model, engine, threads, precision)
                spec = SubjectSpec(
                    deployment.row_name(variant),
                    PINNED_FACTORIES[engine, precision],
                    model,
                    model.suffix.lstrip(".").lower(),
                    overrides=overrides or CardOverrides(),
                    sha256=digest,
                )
                points.append(SweepPoint(spec, deployment))
    return points


@dataclass(frozen=True)
class SweepReport:
    """The bench report of every point, and the deployment of each row by row name."""

    report: BenchReport
    deployments: dict[str, Deployment] = field(default_factory=dict)

    def recommend(self, min_agreement: float) -> tuple[Recommendation, Deployment | None]:
        chosen = recommend(self.report.results, min_agreement)
        return chosen, self.deployments[chosen.best.name] if chosen.best else None


def run_sweep(
    request: BenchRequest,
    max_threads: int | None = None,
    progress: Progress = lambda _: None,
    require_reference: bool = False,
) -> SweepReport:
    """Measure every point of the sweep of `request.models` (see plan_sweep), each in a fresh
    process, in rounds when request.plan.processes > 1, and compare them as bench does (see
    edgexray.bench.suite.ComparisonPlan; with require_reference, NoReferenceError before
    measuring when nothing could be compared). `request.threads` is not used: the sweep goes
    over 1..max_threads (default: the usable cores)."""
    models = read_models(request.models, request.overrides, request.trusted_keys)
    cards = [model.card for model in models]
    data = load_bench_data(request.data, cards[0].labels, request.limit)
    installed = available_engines()
    max_threads = max_threads or usable_cores()
    digests = [model.sha256 for model in models]
    precisions = offered_precisions(read_cpuinfo(), platform.machine())
    points = plan_sweep(
        request.models, cards, installed, max_threads, request.overrides, digests, precisions
    )
    if not points:
        raise EngineUnavailableError(
            f"no installed engine reads these files (installed: {', '.join(installed) or 'none'})"
        )
    plan = plan_comparison(request, cards, data, len(points), progress)
    if require_reference:
        plan.require(data)
    runs: list[list[RunOutcome]] = [[] for _ in points]
    with tempfile.TemporaryDirectory(prefix="edgexray-sweep-") as folder:
        progress(f"preprocessing {len(data.files)} images")
        tensors = preprocess_once(data, cards, Path(folder))
        for round_index in range(request.plan.processes):
            for number, (point, outcomes) in enumerate(zip(points, runs, strict=True), 1):
                of = f", round {round_index + 1}" if request.plan.processes > 1 else ""
                progress(f"measuring {point.spec.name} ({number} of {len(points)}{of})")
                outcomes.append(
                    run_isolated(
                        point.spec,
                        list(data.files),
                        request.plan,
                        point.deployment.threads,
                        tensors,
                    )
                )
    outcomes = [_median_run(o) for o in runs]
    report = assemble_report(
        outcomes, data, plan.choose(outcomes), request.plan, max_threads, swept=True
    )
    return SweepReport(report, {p.spec.name: p.deployment for p in points})
