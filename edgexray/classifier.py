"""The Python API: load a model file once, classify images with it.

    clf = edgexray.Classifier("model.tflite")
    result = clf.predict("chest.png")
    print(result.label, result.confidence)

Thread-safety: one Classifier may be shared by threads. `predict` decodes in the calling thread;
`iter_predictions` and `predict_batch` decode ahead in background threads (`decode_workers`). The
engine call is serialized by a lock, because LiteRT interpreters are not thread-safe.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides, resolve_card
from edgexray.cores import usable_cores
from edgexray.engines import Engine, EngineOptions, open_engine
from edgexray.engines.outputs import EngineOutputs
from edgexray.errors import CardError, EdgexrayError, ImageError, NoClassEvidenceError
from edgexray.inputcheck import (
    DEFAULT_MODE,
    NOT_CHECKED,
    ImageCheckThresholds,
    InputCheck,
    InputCheckMode,
    check_mode,
)
from edgexray.inputcheck.facts import ImageFacts
from edgexray.model_identity import ModelIdentity, bytes_sha256, overrides_applied
from edgexray.modelcheck import ModelCheckSummary
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.postprocess import decide, to_probabilities
from edgexray.precision import EXACT
from edgexray.prediction import Judged, Prediction
from edgexray.preprocessing import DecodeLimits, Preprocessor
from edgexray.preprocessing.decode import ImageInput
from edgexray.preprocessing.dicom import DicomOptions
from edgexray.preprocessing.input_file import InputFile, display_name, read_input
from edgexray.preprocessing.transform import DISPLAY_SIDE, check_reducing_gap
from edgexray.signing.rules import TrustRules
from edgexray.signing.verify import Signer, TrustPolicy
from edgexray.stages.pipeline import Pipeline
from edgexray.stages.stage import Setup

if TYPE_CHECKING:  # pragma: no cover
    from edgexray.explain import Explanation, OcclusionConfig


@dataclass(frozen=True)
class ClassifierOptions:
    """threads: engine threads (None = one per core this process may use). engine: force an engine
    by name (None = by file suffix). batch_size: images per engine call in predict_batch.
    max_pixels: refuse larger images. decode_workers: threads that decode and preprocess the next
    images while the engine runs (0 = decode in the calling thread; None = one per core this process
    may use). Pillow releases the GIL while it decodes, so decoding spreads over the cores: large
    PNGs, whose decoding costs several times the inference, go through a folder run up to the
    number of cores times faster. reducing_gap: resize large images in two steps (see
    Preprocessor; None = one step, exactly as in training). verbose: let the engine's own messages
    through while the model loads (silenced by default). input_check: `strict` (default) gives
    an image the input checks refuse no label but a `rejected` reason; `warn` keeps the label and
    flags it; `off` skips the checks. image_checks: the image checks' thresholds.
    trusted_keys: public key files (Ed25519 PEM, `edgexray keygen`); when given, only a model file
    signed by one of them loads (UntrustedModelError otherwise; needs the `[sign]` extra).
    dicom: how DICOM files are read (window, header gate; docs/dicom.md).
    allow_unsealed_card: load a model whose card has no digest (`card_sha256`): an edit to such a
    card (threshold, labels, checks removed) cannot be detected, so it is refused unless the user
    accepts that; every decision then says `"card": "legacy"`.
    trust_rules: what the trust policy asks beyond a trusted signer (a minimum version per model
    name, an allow-list of file digests, a degraded variant, which card values `overrides` may
    replace; edgexray.signing.rules); the pinning rules need trusted_keys.

    precision: the engine's arithmetic (edgexray.precision): `f32`, exact, by default; `bf16` or
    `f16` where the CPU has it, as `bench --sweep` measured and recommended (docs/bench.md). Every
    record says which precision decided."""

    threads: int | None = None
    engine: str | None = None
    batch_size: int = 8
    max_pixels: int = DecodeLimits().max_pixels
    max_bytes: int = DecodeLimits().max_bytes
    decode_workers: int | None = None
    reducing_gap: float | None = None
    verbose: bool = False
    input_check: InputCheckMode = DEFAULT_MODE
    image_checks: ImageCheckThresholds = field(default_factory=ImageCheckThresholds)
    trusted_keys: tuple[str | os.PathLike[str], ...] = ()
    dicom: DicomOptions = field(default_factory=DicomOptions)
    allow_unsealed_card: bool = False
    trust_rules: TrustRules = field(default_factory=TrustRules)
    precision: str = EXACT

    def __post_init__(self) -> None:
        check_mode(self.input_check)
        object.__setattr__(self, "trusted_keys", tuple(self.trusted_keys))
        if self.trust_rules.needs_keys and not self.trusted_keys:
            raise ValueError(
                "a minimum model version or an allow-list of digests needs trusted keys"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.decode_workers is not None and self.decode_workers < 0:
            raise ValueError(f"decode_workers must not be negative, got {self.decode_workers}")
        EngineOptions(self.threads, precision=self.precision)  # validates both
        DecodeLimits(self.max_pixels, self.max_bytes)
        check_reducing_gap(self.reducing_gap)

    @property
    def resolved_decode_workers(self) -> int:
        """Decode threads to start: `decode_workers`, else one per core this process may use."""
        if self.decode_workers is None:
            return usable_cores()
        return self.decode_workers


# What a result records about an input file, by format (a DICOM file's UIDs, view and window).
_Source = Mapping[str, Any] | None


@dataclass(frozen=True)
class _Item:
    """One source on its way to a decision. name: the path as given (None for data without one);
    sha256: of the bytes read (a file's, else None); x: the model input, None when the source could
    not be read or decoded (`error`) or the input checks rejected it (`check`); source: what its
    record says about the file (DICOM identifiers); film: the decoded image for a screen, when
    asked for (Classifier.judge)."""

    name: str | None
    sha256: str | None
    x: np.ndarray | None
    error: str | None
    check: InputCheck
    source: _Source
    film: Image.Image | None = None

    def result(self, model: ModelIdentity, check: InputCheck, **decision: Any) -> Prediction:
        """This source's Prediction by `model`: the decision (label, confidence, probabilities)
        when given, else the error or the refusal."""
        return Prediction(
            model=model,
            path=self.name,
            sha256=self.sha256,
            error=self.error,
            input_check=check,
            source=self.source,
            **decision,
        )

    def judged(self, prediction: Prediction) -> Judged:
        """`prediction` (this item's) with the model input it was made on (None without a label)
        and the film."""
        return Judged(prediction, self.x if prediction.ok else None, self.film)


def _name(source: object) -> str | None:
    if isinstance(source, InputFile):
        return source.path
    return os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else None


class Classifier:
    """A model file and everything needed to run it: card, engine, preprocessing."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        options: ClassifierOptions | None = None,
        overrides: CardOverrides | None = None,
        *,
        checked: ModelFile | None = None,
    ) -> None:
        """model: the model file. checked: that file already read and checked (check_model_bytes,
        e.g. on a worker the file was shipped to as bytes); then `model` only names it."""
        self.path = Path(model)
        self.options = options or ClassifierOptions()
        # The file is read once and checked (card digest, model bytes) before any engine exists;
        # the engine then loads these same bytes, not the file again.
        if checked is None:
            checked = read_model_file(self.path)
        #: Key ID and place of the trusted signature, when the options set a trust policy.
        self.signer: Signer | None = None
        if self.options.trusted_keys:
            # The signature is checked on the bytes the engine will load.
            policy = TrustPolicy(
                tuple(map(Path, self.options.trusted_keys)), self.options.trust_rules
            )
            self.signer = policy.check(checked)
            policy.check_overrides(checked, overrides)
        embedded = checked.card
        if embedded is not None and embedded.legacy and not self.options.allow_unsealed_card:
            raise CardError(
                f"{self.path}: the model card has no digest (card_sha256), so an edit to it "
                "(threshold, labels, checks) cannot be detected; re-export the model, or accept "
                "that risk with --allow-unsealed-card"
            )
        loaded_sha256 = bytes_sha256(checked.data)
        self.engine: Engine = open_engine(
            self.path,
            EngineOptions(self.options.threads, self.options.verbose, self.options.precision),
            self.options.engine,
            content=checked.data,
        )
        del checked  # the engine keeps the bytes if it needs them (LiteRT), or has copied them
        self.card: ModelCard = resolve_card(self.path, embedded, self.engine, overrides)
        #: Which model decides: the SHA-256 of the bytes the engine loaded, the card's state and
        #: digest, the signer, each override; every Prediction carries it.
        self.identity = ModelIdentity(
            file=self.path.name,
            sha256=loaded_sha256,
            card="none" if embedded is None else "legacy" if embedded.legacy else "sealed",
            card_sha256=None if embedded is None else embedded.card_sha256,
            name=self.card.name,
            variant=self.card.variant,
            engine=self.engine.name,
            engine_version=self.engine.library_version,
            precision=self.engine.precision,
            threshold=self.card.decision_threshold if self.card.task == "binary" else None,
            signer=None if self.signer is None else self.signer.key_id,
            version=None if self.signer is None else self.signer.version,
            overrides=overrides_applied(embedded, self.card),
        )
        self.preprocessor = Preprocessor.from_card(
            self.card,
            DecodeLimits(self.options.max_pixels, self.options.max_bytes),
            self.options.reducing_gap,
            self.options.dicom,
        )
        features = self.engine.features
        setup = Setup(
            self.card,
            self.options.image_checks,
            None if features is None else features.shape[-1],
            str(self.path),
        )
        #: The checks between decode and decision, configured once for this model and mode.
        self.pipeline = Pipeline.configure(setup, self.options.input_check)
        #: The model check (card schema 2, a model exported with pooled features), or None.
        self.model_check: ModelCheckSummary | None = self.pipeline.summary("model")
        self._lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.card.labels

    # Core -----------------------------------------------------------------------------------------

    def predict_tensor(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 (N, H, W, C) -> probabilities (N, len(labels)), one column per label.
        No input check runs here (see `predict` for the checked path)."""
        return self._infer(batch)[0]

    @property
    def has_class_evidence(self) -> bool:
        """True when the model was exported with class evidence (edgexray.explain.class_evidence):
        an explanation in one inference."""
        return self.engine.evidence is not None

    def class_evidence(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed float32 (N, H, W, C) -> (N, h, w, units): each cell of the last feature map's
        share of each logit, from one engine call. NoClassEvidenceError for a model without it."""
        if not self.has_class_evidence:
            raise NoClassEvidenceError(f"{self.path.name}: exported without class evidence")
        evidence = self._engine_outputs(batch).evidence
        if evidence is None:  # has_class_evidence says the engine gives it on every call
            raise NoClassEvidenceError(f"{self.path.name}: the engine gave no class evidence")
        return evidence

    def _engine_outputs(self, batch: np.ndarray) -> EngineOutputs:
        """Every output of one engine call on a model-input batch (N, H, W, C) or (H, W, C)."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        expected = (self.card.input_height, self.card.input_width, self.card.input_channels)
        if batch.shape[1:] != expected:
            raise ValueError(
                f"expected input (N, {expected[0]}, {expected[1]}, {expected[2]}), got {batch.shape}"
            )
        with self._lock:
            return self.engine.infer(batch)

    def _infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and pooled features (None without a model check) of a model-input batch,
        from one engine call."""
        outputs = self._engine_outputs(batch)
        features = outputs.features if self.pipeline.needs_features else None
        return to_probabilities(outputs.prediction, self.card), features

    def _predictions(
        self, items: list[_Item], probabilities: np.ndarray, features: np.ndarray | None = None
    ) -> list[Prediction]:
        chosen = decide(probabilities, self.card)
        checks = self.pipeline.after_engine([item.check for item in items], features)
        return [
            item.result(self.identity, check)
            if check.rejected
            else item.result(
                self.identity,
                check,
                label=self.card.labels[index],
                confidence=float(row[index]),
                probabilities={
                    label: float(p) for label, p in zip(self.card.labels, row, strict=True)
                },
            )
            for item, row, index, check in zip(items, probabilities, chosen, checks, strict=True)
        ]

    def _inspect(
        self, source: ImageInput, film_side: int | None = None
    ) -> tuple[np.ndarray | None, InputCheck, ImageFacts]:
        """The model input for `source` (None when the checks reject it), its input check (the
        pipeline's stages before the engine) and the facts of its one decode (what its result
        records about the file; the film with `film_side`)."""
        sample_colour = self.options.input_check != "off"
        facts = self.preprocessor.inspect(source, sample_colour, film_side)
        x = self.preprocessor.normalize_pixels(facts.pixels)
        check = self.pipeline.before_engine(facts, x)
        return (None if check.rejected else x), check, facts

    def _read(self, source: ImageInput) -> tuple[ImageInput, str | None, str | None]:
        """(what to decode, its name, its SHA-256): a path is read once, here (read_input), and
        decoded from those bytes; ImageError when it cannot be read."""
        if isinstance(source, (str, os.PathLike)):
            source = read_input(source, self.options.max_bytes)
        if isinstance(source, InputFile):
            return source, source.path, source.sha256
        return source, None, None

    def _item(self, source: ImageInput, film_side: int | None = None) -> _Item:
        """`source` read, decoded, checked and preprocessed; ImageError when it cannot be (with the
        SHA-256 of the bytes when they were read)."""
        source, name, sha256 = self._read(source)
        try:
            return self._decoded(source, name, sha256, film_side)
        except ImageError as exc:
            exc.sha256 = sha256
            raise

    def _decoded(
        self, source: ImageInput, name: str | None, sha256: str | None, film_side: int | None
    ) -> _Item:
        x, check, facts = self._inspect(source, film_side)
        return _Item(name, sha256, x, None, check, facts.source, facts.film)

    def _decide(self, item: _Item) -> Prediction:
        """The Prediction for one item: its refusal, or the engine's decision with the model
        check."""
        if item.x is None:
            return item.result(self.identity, item.check)
        probabilities, features = self._infer(item.x[None])
        return self._predictions([item], probabilities, features)[0]

    # Public API -----------------------------------------------------------------------------------

    def prepare(self, source: ImageInput) -> tuple[np.ndarray | None, InputCheck, _Source]:
        """What this classifier feeds its engine for `source`: the preprocessed (H, W, C) input,
        or None when the input checks reject it; the input check; the file's source facts (DICOM
        identifiers, or None). Raises ImageError when it cannot be decoded. Several variants of
        one model (same preprocessing) can run on one prepared input (predict_tensor)."""
        item = self._item(source)
        return item.x, item.check, item.source

    def predict(self, source: ImageInput) -> Prediction:
        """Classify one image: a path, a file already read (InputFile), the encoded file's bytes, a
        binary file object (io.BytesIO, an upload), a PIL image or a uint8/uint16 array. Raises
        ImageError if it cannot be read or decoded, EngineError if the engine fails on it. An image
        the input checks reject (strict mode) gives a Prediction with `rejected` set and no label."""
        return self._decide(self._item(source))

    def judge(self, source: ImageInput, film_side: int = DISPLAY_SIDE) -> Judged:
        """`predict`, with the model input the decision was made on (None when the prediction has
        no label) and the film (the decoded image, at most `film_side` pixels on its long side),
        all from one read and one decode of `source`: what an explanation needs. Raises as
        `predict` does."""
        item = self._item(source, film_side)
        return item.judged(self._decide(item))

    def iter_predictions(
        self, sources: Iterable[ImageInput], batch_size: int | None = None
    ) -> Iterator[Prediction]:
        """Classify images in batches, yielding one Prediction per source, in order, as soon as its
        batch is done. An image that cannot be read or decoded yields a Prediction with `error`
        set; the others are unaffected. Memory holds one batch at a time."""
        for batch in self.iter_judged_batches(sources, None, batch_size):
            for judged in batch:
                yield judged.prediction

    def iter_judged_batches(
        self,
        sources: Iterable[ImageInput],
        film_side: int | None = DISPLAY_SIDE,
        batch_size: int | None = None,
    ) -> Iterator[list[Judged]]:
        """`iter_predictions` one engine batch at a time (`batch_size` sources, failures included;
        the last may be shorter), each decision with what `judge` gives: the model input and, with
        `film_side`, the film (None for an input that could not be decoded), from the one read and
        decode it was made on. For a caller that commits per batch (one audit write) or explains
        (`classify --explain`)."""
        size = batch_size or self.options.batch_size
        pending: list[_Item] = []
        for item in self._prepared(sources, 2 * size, film_side):
            pending.append(item)
            # Counting failures too keeps a long run of bad files from piling up unreported.
            if len(pending) >= size:
                yield self._flush(pending)
                pending = []
        if pending:
            yield self._flush(pending)

    def _prepare(self, source: ImageInput, film_side: int | None = None) -> _Item:
        """`_item`, or the item of its failure: named, with the SHA-256 of the bytes when they
        were read (a truncated or corrupt file), so that its record says which bytes failed."""
        try:
            return self._item(source, film_side)
        except ImageError as exc:
            return _Item(_name(source), exc.sha256, None, str(exc), NOT_CHECKED, exc.source)

    def _prepared(
        self, sources: Iterable[ImageInput], lookahead: int, film_side: int | None
    ) -> Iterator[_Item]:
        """Preprocessed sources in order; with decode_workers, up to `lookahead` are decoded ahead
        in background threads, so memory stays bounded whatever the number of sources."""
        workers = self.options.resolved_decode_workers
        prepare = functools.partial(self._prepare, film_side=film_side)
        if workers == 0:
            yield from map(prepare, sources)
            return
        window: deque[Future[_Item]] = deque()
        with ThreadPoolExecutor(workers, "edgexray-decode") as pool:
            try:
                for source in sources:
                    window.append(pool.submit(prepare, source))
                    if len(window) > lookahead:
                        yield window.popleft().result()
                while window:
                    yield window.popleft().result()
            finally:
                for future in window:  # an abandoned run does not decode what nobody will read
                    future.cancel()

    def _run_isolating(self, items: list[_Item], batch: np.ndarray) -> list[Prediction]:
        """Predictions for a batch; when the engine fails on it, each input is retried alone, so
        one input the engine cannot run costs only its own result (an error record)."""
        try:
            probabilities, features = self._infer(batch)
        except EdgexrayError as exc:
            if len(batch) == 1:
                item = dataclasses.replace(items[0], error=self._engine_error(items[0].name, exc))
                return [item.result(self.identity, NOT_CHECKED)]
            return [
                prediction
                for i in range(len(batch))
                for prediction in self._run_isolating(items[i : i + 1], batch[i : i + 1])
            ]
        return self._predictions(items, probabilities, features)

    @staticmethod
    def _engine_error(name: str | None, exc: Exception) -> str:
        return f"{display_name(name)}: {exc}" if name is not None else str(exc)

    def _flush(self, pending: list[_Item]) -> list[Judged]:
        good = [item for item in pending if item.x is not None]  # decoded and not rejected
        done = iter(
            self._run_isolating(good, np.stack([i.x for i in good if i.x is not None]))
            if good
            else []
        )
        return [
            item.judged(
                next(done) if item.x is not None else item.result(self.identity, item.check)
            )
            for item in pending
        ]

    def predict_batch(
        self, sources: Iterable[ImageInput], batch_size: int | None = None
    ) -> list[Prediction]:
        """Like iter_predictions, as a list."""
        return list(self.iter_predictions(sources, batch_size))

    def explain(
        self,
        source: ImageInput,
        target: str | None = None,
        config: OcclusionConfig | None = None,
        method: str = "auto",
    ) -> Explanation:
        """Where the model looked: the decision on `source` (`predict`'s, checks included) and a
        heatmap of the evidence for `target` (default: the decided label) through this model's own
        engine, by its class evidence when it has it and by occlusion otherwise (`method`:
        edgexray.explain.METHODS), with `.heatmap` (float32, model input size) and `.overlay` (a PIL
        image for a screen). Raises ImageError if the image cannot be read or decoded,
        InputRejected (with the refusal as `.prediction`) when the input checks refuse it. See
        edgexray.explain."""
        from edgexray.explain import explain

        return explain(self, source, target, config, method=method)

    # Lifetime -------------------------------------------------------------------------------------

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Classifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Classifier({str(self.path)!r}, variant={self.card.variant!r}, engine={self.engine.name!r})"
