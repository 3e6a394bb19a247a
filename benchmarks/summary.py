"""benchmarks/RESULTS.md from the reports of one run: machine, tables, ratios, plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgexray.atomic import write_text_atomically
from edgexray.bench.plot import plot_latency_vs_agreement, plotting_available
from edgexray.bench.report import BenchReport
from edgexray.bench.results import BenchResult

BASELINE = "keras-tf-function"
# The agreement a variant must keep to be recommended (issue 7's floor).
FLOOR = 0.995


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ratio(reference_ms: float | None, row: BenchResult) -> str:
    """How many times faster `row` is than a reference latency (above 1: faster)."""
    if reference_ms is None or not row.ok:
        return "-"
    return f"{reference_ms / row.median_ms:.2f}x"


def _find(rows: tuple[BenchResult, ...], name: str) -> BenchResult | None:
    return next((r for r in rows if r.name == name and r.ok), None)


def fastest(rows: tuple[BenchResult, ...] | list[BenchResult]) -> BenchResult | None:
    measured = [r for r in rows if r.ok]
    return min(measured, key=lambda r: r.median_ms) if measured else None


def _table(
    report: BenchReport, baseline: BenchResult | None, peer: BenchResult | None
) -> list[str]:
    sizes = report.plan.batch_sizes
    head = ["row", "role", "engine", "size", "p50 ms", "p90 ms", "p99 ms", "e2e p50 ms"]
    head += [f"img/s b={b}" for b in sizes]
    head += ["load ms", "first ms", "RSS MB", "agreement", "max abs dp", "accuracy"]
    head += ["vs tf.function", "vs fastest peer"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|",
    ]
    for r in report.results:
        if not r.ok:
            lines.append(f"| {r.name} | {r.role} | failed: {r.error} |" + " |" * (len(head) - 3))
            continue
        size = f"{(r.size_bytes or 0) / 2**10:,.0f} kB"
        cells = [r.name, r.role, r.engine or "-", size]
        lat, e2e = r.latency_ms, r.end_to_end_ms
        cells += [
            _ms(lat.p50 if lat else None),
            _ms(lat.p90 if lat else None),
            _ms(lat.p99 if lat else None),
        ]
        cells += [_ms(e2e.p50 if e2e else None)]
        cells += [f"{(r.throughput_ips or {}).get(b, 0):.0f}" for b in sizes]
        cells += [_ms(r.load_ms), _ms(r.first_inference_ms), f"{r.peak_rss_mb or 0:.0f}"]
        cells += [
            _pct(r.agreement),
            f"{r.quality.max_abs_diff:.1e}" if r.quality.max_abs_diff is not None else "-",
        ]
        cells += [_pct(r.accuracy)]
        cells += [
            _ratio(baseline.median_ms if baseline else None, r),
            _ratio(peer.median_ms if peer else None, r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _findings(
    report: BenchReport, baseline: BenchResult | None, peer: BenchResult | None
) -> list[str]:
    rows = report.results
    variants = [r for r in rows if r.role == "variant"]
    best = fastest([r for r in variants if r.meets(FLOOR)])
    predict = _find(rows, "keras-predict")
    lines = []
    if predict and baseline:
        lines.append(
            f"- Full model: `model.predict` {_ms(predict.median_ms)} ms, compiled `tf.function` "
            f"{_ms(baseline.median_ms)} ms (the baseline below)."
        )
    if peer:
        lines.append(
            f"- Fastest peer: `{peer.name}` {_ms(peer.median_ms)} ms, agreement {_pct(peer.agreement)}."
        )
    if best is None:
        lines.append(f"- No edgexray variant kept {100 * FLOOR:.1f}% agreement.")
        return lines
    text = (
        f"- Fastest edgexray variant with at least {100 * FLOOR:.1f}% top-1 agreement: `{best.name}` "
        f"{_ms(best.median_ms)} ms (agreement {_pct(best.agreement)})"
    )
    if baseline:
        text += f", {baseline.median_ms / best.median_ms:.2f}x the speed of the Keras tf.function"
    if peer:
        text += f", {peer.median_ms / best.median_ms:.2f}x the speed of the fastest peer"
    lines.append(text + ".")
    if best.end_to_end_ms:
        lines.append(
            f"- End to end (decode + resize + normalize + inference of an image file): "
            f"{_ms(best.end_to_end_ms.p50)} ms, "
            f"{best.end_to_end_ms.p50 / best.median_ms:.1f}x inference alone."
        )
    if baseline and baseline.load_ms is not None and best.load_ms is not None:
        cold_keras = baseline.load_ms + (baseline.first_inference_ms or 0)
        cold_best = best.load_ms + (best.first_inference_ms or 0)
        lines.append(
            f"- Cold start (load + first inference, fresh process, imports included): Keras "
            f"tf.function {cold_keras / 1e3:.2f} s, `{best.name}` {cold_best / 1e3:.3f} s; "
            f"peak RSS {baseline.peak_rss_mb:.0f} MB vs {best.peak_rss_mb:.0f} MB."
        )
    return lines


def section(name: str, keras: Path, report: BenchReport, plot: Path | None) -> list[str]:
    rows = report.results
    baseline = _find(rows, BASELINE)
    peer = fastest([r for r in rows if r.role == "peer"])
    comparison: dict[str, Any] = report.comparison or {}
    lines = [
        f"## {name}: `{keras.name}`",
        "",
        f"{report.data['images']} images ({'labelled' if report.data['labelled'] else 'unlabelled'}) "
        f"from `{report.data['folder']}`; parity against {comparison.get('source', 'nothing')} on "
        f"{comparison.get('images', 0)} images.",
        "",
        *_findings(report, baseline, peer),
        "",
        *_table(report, baseline, peer),
        "",
    ]
    if plot is not None:
        lines += [f"![latency vs agreement, {name}]({plot.name})", ""]
    return lines


def write_results(
    out: Path,
    reports: list[tuple[Any, BenchReport]],
    command: str,
    note: str,
    load: tuple[float, float] | None = None,
) -> Path:
    """RESULTS.md at `out` (with a PNG per suite beside it when matplotlib is there). `load`: the
    1-minute load average before and after the run, which says how busy the machine was."""
    first = reports[0][1]
    plan = first.plan
    lines = [
        "# Benchmarks",
        "",
        *([note, ""] if note else []),
        f"Run `{command}` on {first.created}.",
        "",
        f"Machine: {first.machine.describe()}.",
        "",
        *(
            [
                f"1-minute load average: {load[0]:.1f} before the run, {load[1]:.1f} after "
                f"(above {first.machine.logical_cores} means other jobs shared the cores and the "
                "figures are noisier than on an idle machine).",
                "",
            ]
            if load
            else []
        ),
        "Tools: "
        + ", ".join(f"{k} {v}" for k, v in sorted(first.machine.tool_versions.items()))
        + ".",
        "",
        "How: every row is measured in its own fresh Python process, one after another (load time and "
        "first inference include importing the runtime; the peak RSS is that row's alone, read after "
        "the timed runs, so it includes decoding the largest timing image; no row runs on caches "
        f"another warmed), in {plan.processes} round(s) over all rows; each row shows its run with "
        "the median latency. A 0.2 ms model ran at about 0.18 ms in some processes and 0.31-0.42 ms "
        "in others, through edgexray and by hand alike, so small differences between such rows are "
        "noise; in one process edgexray stays within 1% of LiteRT by hand "
        "(`python benchmarks/overhead.py MODEL`). "
        f"Latency is one preprocessed image per call, {plan.runs} timed "
        f"calls after {plan.warmup} warm-up calls cycling through {plan.timing_images} images, "
        "`time.perf_counter`; p50 is the median. `e2e` adds decoding and preprocessing one image "
        "file of the data folder (the synthetic 500-2000 px radiographs: about 70% 8-bit PNG, 15% 16-bit "
        "PNG, 15% JPEG), one at a time in the calling thread. Folder runs, which decode ahead on "
        "every core, on 1024 px files of each format: `END_TO_END.md` (`benchmarks/end_to_end.py`). "
        "Ratios are the baseline's (or fastest peer's) median over the row's: above 1 is faster. "
        "The Keras baseline is the model called in a `tf.function` with a fixed input signature "
        "(graph mode); `jit_compile=True` (XLA) was slower on this CPU in a check, so it is not "
        "used. Agreement is top-1 agreement with Keras `model.predict` on all the images; peers run the same "
        "files as the edgexray rows, by hand with their own APIs and default settings plus the "
        "thread count.",
        "",
    ]
    for suite, report in reports:
        plot = None
        if plotting_available():
            plot = plot_latency_vs_agreement(
                report.results,
                out.parent / f"latency-vs-agreement-{suite.name}.png",
                title=f"{suite.name}: latency vs agreement (marker area ~ file size)",
            )
        lines += section(suite.name, suite.keras, report, plot)
    write_text_atomically(out, "\n".join(lines).rstrip() + "\n")
    return out
