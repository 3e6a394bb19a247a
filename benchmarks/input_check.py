"""How well the input checks refuse what is not a chest radiograph, and what they cost.

    python benchmarks/input_check.py                        # shipped models -> INPUT_CHECK.md
    python benchmarks/input_check.py --models DIR1 DIR2     # variants exported elsewhere
    python benchmarks/input_check.py --cost                 # image-check cost vs end to end

Inputs, all reproducible from a fresh clone:
- the labelled non-chest set of `edgexray_export.data.not_chest` (what `edgexray synth OUT
  --not-chest` writes), PER_CATEGORY images per category, seed NOT_CHEST_SEED; its upside-down and
  inverted chests are each model's own held-out chest images, turned;
- the project's held-out chest images: the validation and test images of the sets
  export/rebuild.py trains the shipped models on (seed 2026, 800 per class; the images export
  calibrates on), taken from `--data` (rebuild's `build/synthetic`, with its held-out-cnn and
  held-out-finetune folders) when there, else drawn again from the same seeds into
  benchmarks/.cache (only the held-out images: the split depends only on the file names);
- every bundled sample (models/samples).

Every variant runs through the public Python API (`Classifier`, `input_check="strict"`), so a
model check that lives in the Classifier is measured too. Writes a Markdown report (--out).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgexray_export.data.folders import _stratified
from edgexray_export.data.not_chest import CATEGORIES, write_not_chest
from edgexray_export.data.synthetic import SynthConfig, generate_image, write_image
from edgexray_export.rebuild import RebuildPlan
from PIL import Image
from provenance import measured_on

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.inputcheck import check_image
from edgexray.modelcheck import appearance_features, appearance_finding
from edgexray.preprocessing import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
SHIPPED = (ROOT / "models" / "demo", ROOT / "models" / "finetune")
PER_CATEGORY = 40
NOT_CHEST_SEED = 9090  # training used 2026, the bundled samples 2027
TURNED = ("chest-upside-down", "chest-inverted")
DRAWN = tuple(c for c in CATEGORIES if c not in TURNED)
# The chest categories' models: "cnn" (binary, the seed CNN) and "finetune" (three classes), as
# export/rebuild.py names its held-out folders.
FAMILIES = {2: "cnn", 3: "finetune"}


@dataclass(frozen=True)
class Inputs:
    """Files by category for one model family: the non-chest categories, then the held-out chest
    images and the bundled samples."""

    not_chest: dict[str, list[Path]]
    chest: list[Path]
    samples: list[Path]


def rebuild_split(family: str) -> tuple[SynthConfig, list[Path], list[Path]]:
    """(config, training names, held-out names) of rebuild's set for `family` ("cnn": the binary
    set, else the three-class one). rebuild writes CLASS_NNNNN files, so the split of scan_folder
    depends only on the indices: the names are known without drawing any image."""
    plan = RebuildPlan()
    config = plan.binary_config() if family == "cnn" else plan.synth_config()
    by_class = {c: [Path(f"{c}_{i:05d}") for i in range(config.count)] for c in config.classes}
    split = plan.split()
    train, val, test = _stratified(
        by_class, tuple(sorted(by_class)), (split.val_fraction, split.test_fraction), split.seed
    )
    return config, sorted(train.files), sorted(val.files + test.files)


def draw_films(names: list[Path], config: SynthConfig, folder: Path) -> list[Path]:
    """The films `names` (CLASS_NNNNN) of `config`, drawn into folder/<class>/."""
    written = []
    for name in names:
        class_name, index = name.name.rsplit("_", 1)
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        image = generate_image(class_name, int(index), config)
        written.append(write_image(image, folder / class_name))
    return sorted(written)


def held_out_chests(family: str, data: Path | None, cache: Path) -> list[Path]:
    """The held-out images of rebuild's set for `family`: from data/held-out-<family> when that
    exists, else the same images drawn again into cache/held-out-<family>."""
    if data is not None and (data / f"held-out-{family}").is_dir():
        return sorted(p for p in (data / f"held-out-{family}").rglob("*") if p.is_file())
    config, _, wanted = rebuild_split(family)
    folder = cache / f"held-out-{family}-{config.seed}-{config.count}"
    kept = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if len(kept) == len(wanted):
        return kept
    print(f"drawing {len(wanted)} held-out {family} images into {folder}", file=sys.stderr)
    return draw_films(wanted, config, folder)


def build_inputs(work: Path, data: Path | None, families: set[str]) -> dict[str, Inputs]:
    drawn = write_not_chest(work / "not-chest", PER_CATEGORY, NOT_CHEST_SEED, categories=DRAWN)
    samples = sorted(p for p in (ROOT / "models" / "samples").rglob("*") if p.is_file())
    if not _reads_dicom():
        samples = [p for p in samples if p.suffix.lower() not in (".dcm", ".dicom")]
    found = {}
    for family in sorted(families):
        chest = held_out_chests(family, data, HERE / ".cache")
        turned = write_not_chest(
            work / f"turned-{family}", PER_CATEGORY, NOT_CHEST_SEED, chest, categories=TURNED
        )
        found[family] = Inputs({**drawn, **turned}, chest, samples)
    return found


def _reads_dicom() -> bool:
    import importlib.util

    return importlib.util.find_spec("pydicom") is not None


@dataclass(frozen=True)
class Outcome:
    """For one variant: per category, (share rejected, which checks rejected: first finding)."""

    variant: str
    family: str
    rejected: dict[str, tuple[float, Counter[str]]]
    sizes: dict[str, int]
    model_check: str  # the card's model-check method, or "none" (a version-1 card)


def run_variant(model: Path, inputs: dict[str, Inputs]) -> Outcome:
    options = ClassifierOptions(input_check="strict", threads=1)
    with Classifier(model, options) as classifier:
        family = FAMILIES[len(classifier.labels)]
        mine = inputs[family]
        groups = {**mine.not_chest, "held-out chest": mine.chest, "bundled samples": mine.samples}
        rejected = {}
        sizes = {name: len(paths) for name, paths in groups.items()}
        for name, paths in groups.items():
            results = classifier.predict_batch(paths)
            checks = Counter(
                r.input_check.findings[0].check for r in results if r.input_check.rejected
            )
            rejected[name] = (sum(checks.values()) / len(results), checks)
        check = classifier.model_check
    return Outcome(model.name, family, rejected, sizes, check.method if check else "none")


def _by(checks: Counter[str]) -> str:
    total = sum(checks.values())
    return ", ".join(f"{name} {count / total:.0%}" for name, count in checks.most_common())


def family_table(outcomes: list[Outcome], inputs: Inputs) -> str:
    """Rows: categories; columns: variants; the last column says which checks rejected (first
    finding of each rejected image, over every variant)."""
    short = [o.variant.split(".", 1)[1].rsplit(".", 1)[0] for o in outcomes]
    head = ["category", "images", *short, "rejected by"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    lines.append("| *model check* | | " + " | ".join(o.model_check for o in outcomes) + " | |")
    sizes = {**{k: len(v) for k, v in inputs.not_chest.items()}}
    sizes |= {"held-out chest": len(inputs.chest), "bundled samples": len(inputs.samples)}
    for name in [*CATEGORIES, "all non-chest", "held-out chest", "bundled samples"]:
        if name == "all non-chest":
            shares = [statistics.mean(o.rejected[c][0] for c in CATEGORIES) for o in outcomes]
            count = sum(sizes[c] for c in CATEGORIES)
            checks: Counter[str] = sum(
                (o.rejected[c][1] for o in outcomes for c in CATEGORIES), Counter()
            )
            label = "**all non-chest**"
        else:
            shares = [o.rejected[name][0] for o in outcomes]
            count = sizes[name]
            checks = sum((o.rejected[name][1] for o in outcomes), Counter())
            label = f"**{name}**" if name in ("held-out chest", "bundled samples") else name
        if name == "bundled samples":
            cells = [f"{round(s * count)} of {count}" for s in shares]
        else:
            cells = [f"{s:.1%}" if name == "held-out chest" else f"{s:.0%}" for s in shares]
        lines.append(f"| {label} | {count} | " + " | ".join(cells) + f" | {_by(checks)} |")
    return "\n".join(lines)


TITLES = {"cnn": "Seed CNN (binary)", "finetune": "Fine-tuned MobileNetV2 (three classes)"}


def _span(values: list[float], digits: int) -> str:
    low, high = f"{min(values):.{digits}%}", f"{max(values):.{digits}%}"
    return low if low == high else f"{low}–{high}"


def summary_table(outcomes: list[Outcome]) -> str:
    """Rows: categories; a column per model: the share refused, lowest–highest over its
    variants."""
    families = sorted({o.family for o in outcomes})
    by_family = {f: [o for o in outcomes if o.family == f] for f in families}
    head = ["category", *(f"{TITLES[f]}, {len(by_family[f])} variants" for f in families)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(families)]
    for name in [*CATEGORIES, "all non-chest", "held-out chest", "bundled samples"]:
        cells = []
        for family in families:
            mine = by_family[family]
            if name == "all non-chest":
                shares = [statistics.mean(o.rejected[c][0] for c in CATEGORIES) for o in mine]
            else:
                shares = [o.rejected[name][0] for o in mine]
            if name == "bundled samples":
                total = mine[0].sizes[name]
                worst = max(round(share * total) for share in shares)
                cells.append(f"none of {total}" if worst == 0 else f"up to {worst} of {total}")
            else:
                cells.append(_span(shares, 1 if name == "held-out chest" else 0))
        bold = name in ("all non-chest", "held-out chest", "bundled samples")
        lines.append(f"| {f'**{name}**' if bold else name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_files(folders: list[Path], only: str | None) -> list[Path]:
    found = sorted(
        p for folder in folders for p in folder.glob("*.*") if p.suffix in (".tflite", ".onnx")
    )
    return [p for p in found if only is None or only in p.name]


def _families(models: list[Path]) -> set[str]:
    found = set()
    for model in models:
        with Classifier(model, ClassifierOptions(input_check="off", threads=1)) as classifier:
            found.add(FAMILIES[len(classifier.labels)])
    return found


def measure(folders: list[Path], work: Path, data: Path | None, only: str | None) -> str:
    models = model_files(folders, only)
    inputs = build_inputs(work, data, _families(models))
    outcomes = []
    for model in models:
        started = time.perf_counter()
        outcomes.append(run_variant(model, inputs))
        print(f"{model.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    load = os.getloadavg()
    parts = [
        "# Input checks: what is refused\n",
        f"`python benchmarks/input_check.py`. {measured_on()} Load average "
        f"{load[0]:.1f} (shares do not depend on it). Non-chest: {PER_CATEGORY} images per "
        f"category (`edgexray_export.data.not_chest`, seed {NOT_CHEST_SEED}); the upside-down and "
        "inverted chests are the model's own held-out images, turned. Held-out chest: the "
        "validation and test images of the set the model was trained on (export calibrates on "
        "them). A cell is the share refused in `strict` mode through `Classifier`; *rejected by* "
        "counts the first failed check of each refused image over all variants. Goal: >= 95% of "
        "non-chest refused, <= 1% of held-out chest, no bundled sample.\n",
    ]
    parts.append(f"## Summary: share refused, over every variant\n\n{summary_table(outcomes)}\n")
    for family in sorted({o.family for o in outcomes}):
        mine = [o for o in outcomes if o.family == family]
        parts.append(f"## {TITLES[family]}\n\n{family_table(mine, inputs[family])}\n")
    return "\n".join(parts)


def cost(runs: int = 200) -> str:
    """Median time of the checks that run before inference (image checks with their colour sample,
    the appearance check) and of one image end to end on the seed CNN's tflite-int8, interleaved
    in one process."""
    model = ROOT / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        chest = generate_image(
            "NORMAL",
            0,
            SynthConfig(
                count=1,
                seed=NOT_CHEST_SEED,
                min_side=1024,
                max_side=1024,
                min_aspect=1,
                max_aspect=1,
            ),
        ).pixels
        for suffix in (".png", ".jpg"):
            path = Path(folder) / f"chest{suffix}"
            Image.fromarray(np.rint(chest * 255).astype(np.uint8), "L").save(path, quality=90)
            with (
                Classifier(model, ClassifierOptions(threads=1, input_check="off")) as off,
                Classifier(model, ClassifierOptions(threads=1, input_check="strict")) as strict,
            ):
                pre = Preprocessor.from_card(strict.card)
                facts = pre.inspect(path)
                x = pre.normalize_pixels(facts.pixels)
                layout = strict.card.appearance_check
                if layout is None:
                    raise SystemExit(f"{model}: no appearance check (card schema 3); re-export")
                names = ("off", "strict", "checks", "appearance", "with sample", "without sample")
                times: dict[str, list[float]] = {name: [] for name in names}
                cpu: dict[str, list[float]] = {name: [] for name in names}
                for _ in range(runs):
                    for name, call in (
                        ("off", lambda p=path: off.predict(p)),
                        ("strict", lambda p=path: strict.predict(p)),
                        ("checks", lambda f=facts: check_image(f)),
                        (
                            "appearance",
                            lambda s=layout, v=x: appearance_finding(
                                s, appearance_features(v[None])[0]
                            ),
                        ),
                        ("with sample", functools.partial(pre.inspect, path, sample_colour=True)),
                        (
                            "without sample",
                            functools.partial(pre.inspect, path, sample_colour=False),
                        ),
                    ):
                        start, start_cpu = time.perf_counter(), time.thread_time()
                        call()
                        cpu[name].append(time.thread_time() - start_cpu)
                        times[name].append(time.perf_counter() - start)
            for clock, measured in (("wall", times), ("CPU", cpu)):
                med = {k: statistics.median(v) * 1000 for k, v in measured.items()}
                # The checks' own cost: the image checks, taking the colour sample while decoding,
                # and the appearance check (both run before inference).
                sample = max(0.0, med["with sample"] - med["without sample"])
                added = med["checks"] + sample + med["appearance"]
                rows.append(
                    f"| 1024x1024 {suffix[1:].upper()} | {clock} | {med['off']:.2f} ms | "
                    f"{med['strict']:.2f} ms | {med['checks']:.3f} ms | "
                    f"{med['appearance']:.3f} ms | {added:.3f} ms ({added / med['off']:.1%}) |"
                )
    load = os.getloadavg()
    head = (
        f"Load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min), median of "
        f"{runs} interleaved runs, one engine thread. CPU: the calling thread's CPU time (the "
        "engine runs in it with one thread), which waiting for a busy core does not inflate.\n\n"
        "| input | clock | end to end, checks off | end to end, strict | image checks | appearance "
        "check | all checks + colour sample (share of end to end) |\n|---|---|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="*", type=Path, default=list(SHIPPED))
    parser.add_argument("--only", default=None, help="only variants whose file name contains this")
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT / "build" / "synthetic",
        help="rebuild's data folder, with held-out-cnn and held-out-finetune (default: "
        "build/synthetic; drawn again when absent)",
    )
    parser.add_argument("--work", type=Path, default=None, help="keep the generated images here")
    parser.add_argument("--out", type=Path, default=HERE / "INPUT_CHECK.md")
    parser.add_argument("--cost", action="store_true", help="measure the checks' cost instead")
    args = parser.parse_args()
    if args.cost:
        print(cost())
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        report = measure(args.models, work, args.data, args.only)
    write_text_atomically(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
