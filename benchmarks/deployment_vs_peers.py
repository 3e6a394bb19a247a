"""edgexray's recommended deployment against the fastest a user gets from the peers by hand.

    python benchmarks/deployment_vs_peers.py [--rounds 5] [--runs 100]

For each shipped model (benchmarks/run.py's suites), in one run on this machine:
1. edgexray's recommendation, obtained as a user obtains it: `edgexray bench --sweep --recommend
   0.995 --json ...` on the model's variants (every file x engine x threads x precision this CPU
   offers, parity measured for each);
2. the peers used by hand with their own APIs and *default settings* (no thread count, no
   precision, no performance hint): LiteRT's Interpreter on every .tflite, ONNX Runtime's
   InferenceSession and OpenVINO's compile_model on every .onnx;
3. all rows measured in fresh processes, in interleaved rounds, each row's figure the median of
   its rounds' single-image p50; the load average before and after.

It writes DEPLOYMENT_VS_PEERS.md (--out) and results-deployment-vs-peers.json (named after --out)
beside it: per model the rows, the ratio of edgexray's recommendation to the fastest peer (at most
1.0 is the bar), and the physical limit (the model's MACs over the cores' peak int8/float rate, benchmarks/physical_limit.py).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from physical_limit import cpu_ghz, onnx_macs, peak_rate  # noqa: E402
from run import Suite, shipped_suites, synthetic_data, variant_files  # noqa: E402

from edgexray.atomic import write_text_atomically  # noqa: E402
from edgexray.bench.dataset import load_bench_data  # noqa: E402
from edgexray.bench.deployment import Deployment  # noqa: E402
from edgexray.bench.measure import TimingPlan  # noqa: E402
from edgexray.bench.pinned_subjects import PINNED_FACTORIES  # noqa: E402
from edgexray.bench.runner import RunOutcome, SubjectSpec, run_isolated  # noqa: E402
from edgexray.bench.suite import preprocess_once, read_cards  # noqa: E402
from edgexray.cores import usable_cores  # noqa: E402
from edgexray.cpuinfo import read_cpuinfo  # noqa: E402

FLOOR = 0.995
# Peers at their defaults: the factory and the file suffix it reads.
DEFAULT_PEERS = {
    "litert": ("peers:LiteRTByHand", ".tflite"),
    "onnxruntime": ("peers:ONNXRuntimeByHand", ".onnx"),
    "openvino": ("peers:OpenVINODefaults", ".onnx"),
}


def _suite(text: str) -> Suite:
    name, sep, folder = text.partition("=")
    keras = sorted(Path(folder).glob("*.keras")) if sep else []
    if len(keras) != 1 or not variant_files(Path(folder)):
        raise click.BadParameter(f"expected NAME=FOLDER with one .keras file and variants: {text}")
    return Suite(name, keras[0], Path(folder))


def recommend(suite: Suite, data: Path, folder: Path, runs: int) -> Deployment:
    """What `edgexray bench --sweep --recommend` tells a user to deploy, run as they run it."""
    out = folder / f"{suite.name}-sweep.json"
    edgexray = str(Path(sys.executable).with_name("edgexray"))
    command = [edgexray, "bench", "--sweep", "--data", str(data), "--runs", str(runs)]
    command += ["--recommend", str(FLOOR), "--json", str(out)]
    for model in variant_files(suite.variants):
        command += ["-m", str(model)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    document = json.loads(out.read_text())
    chosen = document["deployments"][document["recommendation"]["name"]]
    return Deployment(
        Path(chosen["path"]), chosen["engine"], chosen["threads"], chosen.get("precision", "f32")
    )


def specs_for(suite: Suite, deployment: Deployment) -> list[tuple[SubjectSpec, int | None]]:
    """(spec, threads) per row: edgexray's deployment, then each peer on each file at defaults."""
    models = variant_files(suite.variants)
    cards = dict(zip(models, read_cards(models), strict=True))
    ours = SubjectSpec(
        f"edgexray: {deployment.row_name(cards[deployment.path].variant)}",
        PINNED_FACTORIES[deployment.engine, deployment.precision],
        deployment.path,
        deployment.path.suffix.lstrip("."),
    )
    rows: list[tuple[SubjectSpec, int | None]] = [(ours, deployment.threads)]
    for peer, (factory, suffix) in DEFAULT_PEERS.items():
        for model in models:
            if model.suffix == suffix:
                name = f"{peer} by hand: {cards[model].variant}"
                spec = SubjectSpec(
                    name, factory, model, suffix[1:], cards[model], "peer", (str(HERE),)
                )
                rows.append((spec, None))
    return rows


def measure(
    rows: list[tuple[SubjectSpec, int | None]],
    files: list[Path],
    tensors: Path | None,
    plan: TimingPlan,
    rounds: int,
) -> dict[str, dict[str, Any]]:
    """Each row once per round, rows alternating; a row's p50 is the median of its rounds'."""
    runs: dict[str, list[RunOutcome]] = {spec.name: [] for spec, _ in rows}
    for number in range(rounds):
        for spec, threads in rows:
            click.echo(f"round {number + 1}/{rounds}: {spec.name}", err=True)
            runs[spec.name].append(run_isolated(spec, files, plan, threads, tensors, 600))
    results = {}
    for name, outcomes in runs.items():
        measured = [o.measurement for o in outcomes if o.measurement is not None]
        errors = [o.error for o in outcomes if o.error]
        results[name] = {
            "p50_ms": float(np.median([m.latency_ms.p50 for m in measured])) if measured else None,
            "rounds_ms": [m.latency_ms.p50 for m in measured],
            "probabilities": measured[0].probabilities if measured else None,
            "error": errors[0] if errors else None,
        }
    return results


def limits(suite: Suite) -> dict[str, Any]:
    fp32 = next(
        (m for m in variant_files(suite.variants) if m.name.endswith("onnx-fp32.onnx")), None
    )
    macs = onnx_macs(fp32) if fp32 else 0
    cpu, ghz, cores = read_cpuinfo(), cpu_ghz(), usable_cores()
    floors: dict[str, Any] = {"macs": macs, "ghz": ghz, "cores": cores}
    for arithmetic in ("int8", "bf16", "f16", "f32"):
        rate = peak_rate(cpu, arithmetic, ghz, cores)
        if rate is not None and macs:
            floors[arithmetic] = {
                "instructions": rate.instructions,
                "macs_per_cycle_per_core": rate.macs_per_cycle,
                "floor_ms": rate.floor_ms(macs),
            }
    return floors


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "# edgexray's recommended deployment vs the peers by hand",
        "",
        f"Machine: {document['machine']}, {document['cores']} cores used. Date: {document['date']}. "
        f"Load average {document['load'][0]:.1f} before, {document['load'][1]:.1f} after.",
        f"Command: `{document['command']}`. Single-image inference p50, median of "
        f"{document['rounds']} interleaved rounds (fresh process per row per round).",
        "",
    ]
    for suite in document["suites"]:
        limit = suite["limit"]
        lines += [
            f"## {suite['name']}",
            "",
            "| row | p50 ms | agreement with fp32 |",
            "|---|---:|---:|",
        ]
        for name, row in suite["rows"].items():
            p50 = (
                "failed: " + str(row["error"]) if row["p50_ms"] is None else f"{row['p50_ms']:.3f}"
            )
            agreement = "-" if row["agreement"] is None else f"{100 * row['agreement']:.1f}%"
            lines.append(f"| {name} | {p50} | {agreement} |")
        lines += [
            "",
            f"**Ratio** edgexray / fastest peer at >= {100 * FLOOR:g}% agreement "
            f"({suite['fastest_peer']}): **{suite['ratio']:.2f}x** (the bar: at most 1.0x).",
            "",
            f"Physical limit: {limit['macs'] / 1e6:.1f} M MACs per image; at {limit['ghz']:.2f} GHz "
            f"x {limit['cores']} cores: "
            + "; ".join(
                f"{a} ({limit[a]['instructions']}, {limit[a]['macs_per_cycle_per_core']} MAC/cycle) "
                f">= {limit[a]['floor_ms']:.3f} ms"
                for a in ("int8", "bf16", "f16", "f32")
                if a in limit
            )
            + ".",
            "",
        ]
    return "\n".join(lines)


@click.command()
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--per-class", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=HERE / "DEPLOYMENT_VS_PEERS.md",
    show_default=True,
)
@click.option(
    "--suite",
    "extra",
    multiple=True,
    metavar="NAME=FOLDER",
    help="Measure this folder (one .keras file and its exported variants) instead of the shipped "
    "models (repeatable).",
)
def main(rounds: int, runs: int, per_class: int, out: Path, extra: tuple[str, ...]) -> None:
    """Measure edgexray's recommendation against the peers' defaults; write the results file."""
    suites = [_suite(text) for text in extra] or shipped_suites()[0]
    plan = TimingPlan(runs=runs, warmup=10, batch_sizes=(1,), processes=1)
    load_before = os.getloadavg()[0]
    document: dict[str, Any] = {
        "machine": read_cpuinfo().model,
        "cores": usable_cores(),
        "date": datetime.date.today().isoformat(),
        "rounds": rounds,
        "command": " ".join(["python benchmarks/deployment_vs_peers.py", *sys.argv[1:]]),
        "suites": [],
    }
    for suite in suites:
        with tempfile.TemporaryDirectory(prefix="edgexray-peers-") as folder:
            models = variant_files(suite.variants)
            cards = read_cards(models)
            data_dir = synthetic_data(cards[0].labels, per_class)
            data = load_bench_data(data_dir, cards[0].labels)
            deployment = recommend(suite, data_dir, Path(folder), runs)
            tensors = preprocess_once(data, cards, Path(folder))
            rows = measure(specs_for(suite, deployment), list(data.files), tensors, plan, rounds)
        reference = next(r["probabilities"] for n, r in rows.items() if "onnx-fp32" in n)
        for row in rows.values():
            p = row.pop("probabilities")
            row["agreement"] = (
                None
                if p is None or reference is None
                else float(np.mean(p.argmax(1) == reference.argmax(1)))
            )
        ours = next(iter(rows.values()))
        peers = {n: r for n, r in rows.items() if not n.startswith("edgexray")}
        eligible = {
            n: r for n, r in peers.items() if r["p50_ms"] and (r["agreement"] or 0) >= FLOOR
        }
        fastest = min(eligible, key=lambda n: eligible[n]["p50_ms"])
        document["suites"].append(
            {
                "name": suite.name,
                "deployment": deployment.command(),
                "rows": rows,
                "fastest_peer": fastest,
                "ratio": ours["p50_ms"] / eligible[fastest]["p50_ms"],
                "limit": limits(suite),
            }
        )
    document["load"] = [load_before, os.getloadavg()[0]]
    write_text_atomically(
        out.with_name(f"results-{out.stem.lower().replace('_', '-')}.json"),
        json.dumps(document, indent=2) + "\n",
    )
    write_text_atomically(out, markdown(document))
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
