"""The bundled demo model and sample images (trained on synthetic images: not for clinical use).

    import edgexray
    clf = edgexray.Classifier(edgexray.demo.model_path())
    print(clf.predict(edgexray.demo.sample_images()[0]).label)

Installed from a wheel they live in the `edgexray._bundled` package; in a source checkout, in the
repository's models/ folder. Both layouts are looked up here and nowhere else.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgexray.engines import ENGINES, available_engines
from edgexray.errors import ModelError
from edgexray.extras import install_hint
from edgexray.preprocessing import discover_images

# Demo variants in order of preference; the first one whose engine is installed is the default.
# Both keep 99.58% agreement; tflite-int8 ran faster here (0.89 vs 1.31 ms, benchmarks/RESULTS.md)
# and a one-image classify takes 0.10 s and 63 MB against 0.12 s and 81 MB with ONNX Runtime.
DEMO_MODELS = ("seed_cnn.tflite-int8.tflite", "seed_cnn.onnx-int8.onnx")


def bundled_root() -> Path:
    """The folder holding demo/ and samples/."""
    spec = importlib.util.find_spec("edgexray._bundled")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location, "demo").is_dir():
                return Path(location)
    return Path(__file__).resolve().parent.parent / "models"


def samples_folder() -> Path:
    """Sample images in class folders named like the demo model's labels (NORMAL, PNEUMONIA)."""
    return bundled_root() / "samples" / "binary"


def default_model() -> Path:
    """The preferred demo model that an installed engine can run."""
    demo = bundled_root() / "demo"
    installed = set(available_engines())
    candidates = [demo / name for name in DEMO_MODELS if (demo / name).is_file()]
    for path in candidates:
        if any(path.suffix in ENGINES[name].suffixes for name in installed):
            return path
    if not candidates:
        raise ModelError(f"no bundled demo model in {demo}; give one with -m/--model")
    raise ModelError(
        "no inference engine installed for the demo model: "
        f"{install_hint('onnx')} or {install_hint('tflite')}"
    )


def model_path() -> Path:
    """The bundled demo model an installed engine can run (the seed CNN, binary NORMAL/PNEUMONIA):
    `tflite-int8` where LiteRT is installed, else `onnx-int8`. ModelError when no engine is."""
    return default_model()


def sample_images() -> list[Path]:
    """The bundled sample images, sorted: four per class of the demo model, in folders named after
    the class (`.../NORMAL/NORMAL_01.png`)."""
    return discover_images([samples_folder()]).files
