"""`edgexray bench --ray [ADDRESS] -m A -m B --data ARCHIVE`: bench's parity and accuracy over a
whole archive, on Ray actors that each hold every variant (edgexray.scale.compare_dataset).

The models, their names and the reference are chosen as bench chooses them (edgexray.bench); the
driver lists the files and keeps a few counters per variant (edgexray.scale.ArchiveComparison)."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

from edgexray.bench.comparison import most_exact
from edgexray.bench.dataset import load_bench_data
from edgexray.bench.suite import BenchRequest, read_models, variant_specs
from edgexray.card import ModelCard
from edgexray.cli.ray_classify import (
    DEFAULT_CONNECT_TIMEOUT_S,
    ray_session,
    require_ray,
    with_progress,
)

# Every image is judged, as bench judges every image of --data: input checks off. Batches of 16
# images per call, one engine thread per actor (edgexray.scale.ACTOR_OPTIONS).
BATCH_SIZE = 16


def choose_reference(cards: list[ModelCard], names: list[str]) -> tuple[int | None, str]:
    """The variant the others are compared with, and why: the most exact (fp32, then fp16, as
    bench chooses its stand-in), else the first given; None with a single model."""
    if len(cards) < 2:
        return None, ""
    chosen = most_exact([card.variant for card in cards])
    if chosen is not None:
        return chosen, "the most exact variant given: fp32 before fp16"
    return 0, f"the first model given: none is fp32 or fp16 (compare with --ray -m {names[0]})"


def bench_on_ray(
    request: BenchRequest,
    address: str,
    actors: int | None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> Any:
    """Compare the request's models over every image of its data folder on Ray; returns an
    edgexray.scale.ArchiveReport. ModelError/CardError for a bad model (before Ray starts),
    ImageError for a data folder without images, EdgexrayError when Ray is missing or the
    cluster cannot be reached within `connect_timeout` seconds (see ray_session)."""
    require_ray()
    from edgexray.classifier import ClassifierOptions
    from edgexray.scale import ACTOR_OPTIONS, ArchiveComparison, ArchiveReport, compare_dataset

    # Each model is read (and, under a trust policy, verified) once: the actors get these bytes.
    models = read_models(request.models, request.overrides, request.trusted_keys)
    cards = [model.card for model in models]
    names = [spec.name for spec in variant_specs(request.models, cards, request.overrides)]
    labels = cards[0].labels
    data = load_bench_data(request.data, labels, request.limit)
    reference, why = choose_reference(cards, names)
    comparison = ArchiveComparison(tuple(names), tuple(cards), reference)
    truth = data.truth if data.truth is not None else [-1] * len(data.files)
    options: ClassifierOptions = dataclasses.replace(ACTOR_OPTIONS, input_check="off")
    with ray_session(address, connect_timeout) as cpus:
        import ray.data

        pool = actors or cpus
        started = time.perf_counter()
        rows = compare_dataset(
            ray.data.from_items(
                [{"path": str(f), "truth": int(t)} for f, t in zip(data.files, truth, strict=True)]
            ),
            [model.checked for model in models],
            actors=pool,
            batch_size=BATCH_SIZE,
            options=options,
            overrides=request.overrides,
        )
        batches = rows.iter_batches(batch_size=None, batch_format="numpy")
        for batch in with_progress(
            batches, len(data.files), sys.stderr.isatty(), lambda b: len(b["status"])
        ):
            comparison.add(batch)
        seconds = time.perf_counter() - started
    return ArchiveReport(
        data={
            "folder": str(data.folder),
            "images": len(data.files),
            "labelled": data.labelled,
            "labels": list(labels),
        },
        comparison=comparison,
        paths=tuple(str(m) for m in request.models),
        actors=pool,
        seconds=seconds,
        reference_reason=why,
    )
