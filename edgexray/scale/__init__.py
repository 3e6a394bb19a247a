"""Archive scale: classify a Ray Dataset of images with a pool of Ray actors, one Classifier each.

    import ray, edgexray.scale
    ds = ray.data.read_binary_files("s3://archive/", include_paths=True)
    records = edgexray.scale.classify_dataset(ds, "model.tflite", actors=8)
    records.write_parquet("s3://results/")

Several variants on the same images (each image decoded once, every variant run on it, the
agreement and accuracy counted on the driver): compare_dataset and ArchiveComparison.

Needs the `[ray]` extra; `import edgexray` never imports this package (nor Ray).
"""

from edgexray.scale.agreement import ArchiveComparison
from edgexray.scale.archive_report import ArchiveReport
from edgexray.scale.dataset import ACTOR_OPTIONS, actor_options, classify_dataset, model_labels
from edgexray.scale.evaluation import FolderConfusion, archive_metrics
from edgexray.scale.records import record_schema, row_to_record
from edgexray.scale.shipped_model import ShippedModel
from edgexray.scale.variants import compare_dataset

__all__ = [
    "ACTOR_OPTIONS",
    "ArchiveComparison",
    "ArchiveReport",
    "FolderConfusion",
    "ShippedModel",
    "actor_options",
    "archive_metrics",
    "classify_dataset",
    "compare_dataset",
    "model_labels",
    "record_schema",
    "row_to_record",
]
