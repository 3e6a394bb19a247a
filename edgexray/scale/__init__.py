"""Archive scale: classify a Ray Dataset of images with a pool of Ray actors, one Classifier each.

    import ray, edgexray.scale
    ds = ray.data.read_binary_files("s3://archive/", include_paths=True)
    records = edgexray.scale.classify_dataset(ds, "model.tflite", actors=8)
    records.write_parquet("s3://results/")

Needs the `[ray]` extra; `import edgexray` never imports this package (nor Ray).
"""

from edgexray.scale.dataset import classify_dataset, model_labels
from edgexray.scale.evaluation import FolderConfusion, archive_metrics
from edgexray.scale.records import record_schema, row_to_record
from edgexray.scale.shipped_model import ShippedModel

__all__ = [
    "FolderConfusion",
    "ShippedModel",
    "archive_metrics",
    "classify_dataset",
    "model_labels",
    "record_schema",
    "row_to_record",
]
