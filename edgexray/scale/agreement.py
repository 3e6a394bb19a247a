"""Archive-level parity between variants, and their accuracy when the archive has class folders,
accumulated batch by batch from compare_dataset's rows: the driver keeps a few counters per
variant, never the records. The arithmetic is bench's (edgexray.parity.measure_parity per batch,
edgexray.metrics on the summed confusion matrices), so an archive and a bench data folder are
judged alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgexray.bench.results import Quality
from edgexray.card import ModelCard
from edgexray.metrics import confusion_matrix, metrics_from_confusion
from edgexray.parity import measure_parity
from edgexray.postprocess import decide
from edgexray.scale.variants import REJECTED, UNREADABLE


@dataclass
class VariantTally:
    """One variant's running sums. images: rows it gave probabilities for; parity_images: those
    the reference also gave probabilities for; agreeing / decisions_changed: counts over those;
    abs_diff_sum: sum over them of the mean |dp| per image (over labels); max_abs_diff: the largest
    |dp| seen; confusion: over the rows with a true class (rows true, columns decided)."""

    name: str
    card: ModelCard
    confusion: np.ndarray
    images: int = 0
    engine_errors: int = 0
    parity_images: int = 0
    agreeing: int = 0
    decisions_changed: int = 0
    abs_diff_sum: float = 0.0
    max_abs_diff: float = 0.0

    def quality(self, against: str | None) -> Quality:
        """The variant's figures as bench reports them (Quality); agreement None for the
        reference itself or when no image was compared."""
        compared = self.parity_images > 0 and against is not None
        metrics = (
            metrics_from_confusion(self.confusion, self.card.labels).to_dict()
            if self.confusion.any()
            else None
        )
        return Quality(
            agreement=self.agreeing / self.parity_images if compared else None,
            max_abs_diff=self.max_abs_diff if compared else None,
            mean_abs_diff=self.abs_diff_sum / self.parity_images if compared else None,
            parity_images=self.parity_images if compared else 0,
            accuracy=metrics["accuracy"] if metrics else None,
            metrics=metrics,
            against=against if compared else None,
        )


@dataclass
class ArchiveComparison:
    """Counters for `names` (variants, in compare_dataset's order, with their `cards`) compared
    with the variant at index `reference` (None: no agreement, only metrics). Feed it batches
    with add(); read the figures with rows()."""

    names: tuple[str, ...]
    cards: tuple[ModelCard, ...]
    reference: int | None
    tallies: list[VariantTally] = field(init=False)
    rows_seen: int = 0
    unreadable: int = 0
    rejected: int = 0
    labelled: int = 0
    # The first few row errors, for the report: enough to see what went wrong, never all of them.
    examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.cards) or not self.names:
            raise ValueError("one card per variant name, and at least one variant")
        if self.reference is not None and not 0 <= self.reference < len(self.names):
            raise ValueError(f"reference index {self.reference} is not a variant")
        size = len(self.cards[0].labels)
        self.tallies = [
            VariantTally(name, card, np.zeros((size, size), dtype=np.int64))
            for name, card in zip(self.names, self.cards, strict=True)
        ]

    @property
    def against(self) -> str | None:
        return None if self.reference is None else self.names[self.reference]

    def add(self, batch: dict[str, Any]) -> None:
        """Count one batch of compare_dataset's rows (numpy format)."""
        status = np.asarray(batch["status"], dtype=object)
        probabilities = np.asarray(batch["probabilities"], dtype=np.float64)
        truth = np.asarray(batch.get("truth", np.full(len(status), -1)), dtype=np.int64)
        self.rows_seen += len(status)
        self.unreadable += int(np.sum(status == UNREADABLE))
        self.rejected += int(np.sum(status == REJECTED))
        for error in batch["error"]:
            if error and len(self.examples) < 5:
                self.examples.append(str(error))
        judged = (status != UNREADABLE) & (status != REJECTED)
        self.labelled += int(np.sum(judged & (truth >= 0)))
        given = judged[:, None] & ~np.isnan(probabilities).any(axis=2)  # (rows, variants)
        for v, tally in enumerate(self.tallies):
            rows = given[:, v]
            tally.images += int(rows.sum())
            tally.engine_errors += int(np.sum(judged & ~rows))
            with_truth = rows & (truth >= 0)
            if with_truth.any():
                decided = decide(probabilities[with_truth, v], tally.card)
                tally.confusion += confusion_matrix(
                    truth[with_truth], decided, len(tally.card.labels)
                )
            if self.reference is not None:
                self._add_parity(tally, probabilities, rows & given[:, self.reference], v)

    def _add_parity(
        self, tally: VariantTally, probabilities: np.ndarray, rows: np.ndarray, v: int
    ) -> None:
        if not rows.any() or self.reference is None:
            return
        reference_card = self.cards[self.reference]
        parity = measure_parity(
            probabilities[rows, self.reference],
            probabilities[rows, v],
            reference_card,
            variant_card=tally.card,
        )
        tally.parity_images += parity.images
        tally.agreeing += round(parity.agreement * parity.images)
        tally.decisions_changed += parity.decisions_changed or 0
        tally.abs_diff_sum += parity.mean_abs_diff * parity.images
        tally.max_abs_diff = max(tally.max_abs_diff, parity.max_abs_diff)

    def rows(self) -> list[tuple[VariantTally, Quality]]:
        """Each variant's tally and its figures, the reference's agreement left None."""
        return [
            (tally, tally.quality(None if v == self.reference else self.against))
            for v, tally in enumerate(self.tallies)
        ]

    @property
    def decisions_comparable(self) -> bool:
        """Whether decisions_changed means anything: binary models (a threshold) only."""
        return self.reference is not None and self.cards[self.reference].task == "binary"
