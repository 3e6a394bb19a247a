"""classify_dataset: a Ray Dataset of images in, a Dataset of classify's records out."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.model_identity import ModelIdentity
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.scale.predictor import ClassifyBatch
from edgexray.scale.shipped_model import ShippedModel
from edgexray.signing.rules import TrustRules

if TYPE_CHECKING:
    from ray.data import Dataset

# One engine thread and decoding in turn: Ray gives each actor one CPU; more actors, not more
# threads, use more cores (and more machines).
ACTOR_OPTIONS = ClassifierOptions(threads=1, decode_workers=0)


def actor_options(options: ClassifierOptions, *, keep_trust: bool = False) -> ClassifierOptions:
    """`options` as an actor runs them: one engine thread, decoding in turn (see ACTOR_OPTIONS);
    the input check mode, DICOM reading, engine, resize and limits are kept. Trusted keys are
    files on the driver: dropped with the trust rules unless `keep_trust` (the driver verifies the
    signature and applies the rules once;
    each worker checks that its bytes are those the driver verified, by SHA-256)."""
    return dataclasses.replace(
        options,
        threads=ACTOR_OPTIONS.threads,
        decode_workers=ACTOR_OPTIONS.decode_workers,
        trusted_keys=options.trusted_keys if keep_trust else (),
        trust_rules=options.trust_rules if keep_trust else TrustRules(),
    )


#: A model file by path (read once, here), or already read and checked: the bytes the caller
#: verified, shipped to the workers as they are (never another read of the file).
ModelSource = Union[str, "os.PathLike[str]", ModelFile]


def checked_model(model: ModelSource) -> ModelFile:
    """`model` read and checked (read_model_file), unless it already is."""
    return model if isinstance(model, ModelFile) else read_model_file(Path(model))


def model_labels(
    model: ModelSource,
    options: ClassifierOptions = ACTOR_OPTIONS,
    overrides: CardOverrides | None = None,
) -> tuple[str, ...]:
    """Load `model` as the workers will (ModelError, CardError if they could not: a bad file, a
    card-less model without overrides) and return its labels, which name the record_schema's
    probability fields. classify_dataset calls it, so a bad model fails once, on the driver."""
    checked = checked_model(model)
    with Classifier(checked.path, options, overrides, checked=checked) as classifier:
        return classifier.labels


def classify_dataset(
    ds: Dataset,
    model: ModelSource,
    *,
    actors: int = 1,
    batch_size: int = 16,
    cpus_per_actor: float = 1.0,
    options: ClassifierOptions = ACTOR_OPTIONS,
    overrides: CardOverrides | None = None,
    identity: ModelIdentity | None = None,
) -> Dataset:
    """Classify every row of `ds` with `model` on a pool of `actors` Ray actors, lazily (Ray runs
    it when the result is consumed or written).

    ds: rows with a `bytes` column (the encoded file, e.g. ray.data.read_binary_files(...,
    include_paths=True), whose `path` then names each record) or a `path` column (files the workers
    can read). Returns a Dataset of classify's records (edgexray.scale.record_schema): one per input
    row, an unreadable image being a record with `error`, never a failed job. Output order is
    Ray's (not the input's). The model (a path, read once here, or a ModelFile already read and
    checked) is checked here (ModelError, CardError) and those bytes are shipped to the workers
    through the object store; each checks their SHA-256 before loading them. An actor that
    dies is restarted and its batches retried, so every row still gives exactly one record.
    identity: the model's identity as the caller made it when it loaded (and verified) `model`;
    every record carries it (None: each worker's own, without a signer).
    Needs a connected Ray (ray.init).
    """
    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    checked = checked_model(model)
    model_labels(checked, options, overrides)
    shipped = ShippedModel.of(checked, identity)
    return map_on_actors(
        ds,
        ClassifyBatch,
        {"model": shipped, "options": options, "overrides": overrides},
        actors=actors,
        batch_size=batch_size,
        cpus_per_actor=cpus_per_actor,
    )


def map_on_actors(
    ds: Dataset,
    callable_class: type,
    constructor_kwargs: dict[str, Any],
    *,
    actors: int,
    batch_size: int,
    cpus_per_actor: float,
) -> Dataset:
    """`ds` mapped, batch by batch (numpy format), through `callable_class` on a pool of `actors`
    Ray actors, each built once with `constructor_kwargs`."""
    import ray.data

    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return ds.map_batches(
        callable_class,
        fn_constructor_kwargs=constructor_kwargs,
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=cpus_per_actor,
        # Ray Data's actor pools restart a dead actor and retry the batches it held
        # (max_restarts=-1, max_task_retries=-1 are its defaults; tests/scale checks the outcome).
    )
