"""`edgexray bench -m MODEL ... --data DIR`: how fast is each variant here, and what does it cost in
accuracy against the full model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from edgexray import exit_codes
from edgexray.atomic import write_text_atomically
from edgexray.bench.measure import TimingPlan
from edgexray.bench.plot import plot_latency_vs_agreement, plotting_available
from edgexray.bench.recommend import recommend
from edgexray.bench.report import format_markdown, format_table
from edgexray.bench.suite import DEFAULT_TIMEOUT_S, BenchRequest, require_comparison, run_bench
from edgexray.cli.options import (
    card_override_options,
    model_or_demo,
    overrides_from,
    ray_options,
    threads_option,
    trusted_key_option,
)
from edgexray.errors import EngineUnavailableError
from edgexray.extras import install_hint


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("give comma-separated whole numbers, e.g. 1,8") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("batch sizes must be at least 1")
    return sizes


def _bench_on_ray(
    request: BenchRequest,
    address: str,
    actors: int | None,
    timeout: float,
    json_path: Path | None,
    markdown: Path | None,
) -> None:
    from edgexray.cli.bench_ray import bench_on_ray

    report = bench_on_ray(request, address, actors, timeout)
    if json_path:
        write_text_atomically(json_path, report.to_json())
    if markdown:
        write_text_atomically(markdown, report.format_markdown())
    click.echo(report.format_table(), nl=False)
    comparison = report.comparison
    engine_errors = sum(t.engine_errors for t, _ in comparison.rows())
    if comparison.unreadable or engine_errors:
        click.echo(
            f"edgexray: {comparison.unreadable} images could not be read, {engine_errors} "
            f"variant runs failed; first: {'; '.join(comparison.examples[:3])}",
            err=True,
        )
        sys.exit(exit_codes.PARTIAL)


@click.command()
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Exported model file (.tflite/.onnx); repeat for each variant. Default: the bundled "
    "demo model.",
)
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Image folder; class sub-folders named like the labels give accuracy too.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Saved full-model probabilities (<name>.reference.json; default: found beside the models).",
)
@click.option(
    "--keras",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="The full Keras model: timed too, and the reference for parity (needs TensorFlow).",
)
@threads_option
@click.option(
    "--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Timed runs."
)
@click.option(
    "--warmup", type=click.IntRange(min=0), default=5, show_default=True, help="Warm-up runs."
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Fresh processes per model; each row reports its median one (use 3 or more to compare "
    "sub-millisecond models: docs/bench.md).",
)
@click.option(
    "--batch-sizes",
    default="1,8",
    show_default=True,
    callback=_batch_sizes,
    help="Batch sizes for throughput, comma-separated.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Use at most N images of --data."
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds one measuring process may take; past it, that row fails and the others go on.",
)
@click.option(
    "--recommend",
    "min_agreement",
    type=click.FloatRange(0, 1),
    default=None,
    help="Name the fastest variant here with at least this top-1 agreement (e.g. 0.995).",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--markdown", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PNG of latency against agreement (needs the [plot] extra).",
)
@click.option(
    "--sweep",
    is_flag=True,
    help="Measure every model on every installed engine that reads it, at 1 to --threads "
    "threads; with --recommend, name the fastest (file, engine, threads).",
)
@click.option(
    "--write-config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With --sweep --recommend: write the recommended deployment as an edgexray.toml "
    "(model, engine, threads), read by classify, serve, watch and explain.",
)
@trusted_key_option
@ray_options
@card_override_options
def bench(
    models: tuple[Path, ...],
    data: Path,
    reference: Path | None,
    keras: Path | None,
    threads: int | None,
    runs: int,
    warmup: int,
    processes: int,
    batch_sizes: tuple[int, ...],
    limit: int | None,
    timeout_s: float,
    min_agreement: float | None,
    json_path: Path | None,
    markdown: Path | None,
    plot: Path | None,
    sweep: bool,
    write_config: Path | None,
    trusted_keys: tuple[Path, ...],
    ray_address: str | None,
    actors: int | None,
    ray_timeout: float,
    **card_flags: Any,
) -> None:
    """Measure each model in its own process: load time, first inference, latency, throughput,
    peak memory, agreement with the full model (or with the most exact variant measured), and
    accuracy when --data has class sub-folders. With --ray, no timing: agreement and accuracy
    over an archive on Ray actors. Details: docs/bench.md, docs/scale.md.

    Exit codes: 0 all measured, 1 fatal error, 2 usage error, 3 some models could not be
    measured (docs/exit-codes.md).
    """
    models = models or (model_or_demo(None),)
    if reference is not None and keras is not None:
        raise click.UsageError("give --reference or --keras, not both")
    if plot is not None and not plotting_available():
        raise EngineUnavailableError(f"--plot needs matplotlib: {install_hint('plot')}")
    if ray_address is not None and (
        keras or reference or sweep or write_config or plot or min_agreement is not None
    ):
        raise click.UsageError(
            "--ray compares variants over an archive, not speed: it takes no --keras, "
            "--reference, --sweep, --write-config, --plot or --recommend"
        )
    request = BenchRequest(
        models=models,
        data=data,
        reference=reference,
        keras=keras,
        threads=threads,
        plan=TimingPlan(runs=runs, warmup=warmup, batch_sizes=batch_sizes, processes=processes),
        limit=limit,
        overrides=overrides_from(card_flags),
        timeout_s=timeout_s,
        # Every model is read and verified once, before any is measured: an untrusted one stops
        # the run (exit 1); each measuring process checks that it loads those same bytes.
        trusted_keys=trusted_keys,
    )
    if ray_address is not None:
        _bench_on_ray(request, ray_address, actors, ray_timeout, json_path, markdown)
        return
    if sweep or write_config:
        from edgexray.cli.bench_sweep import sweep_command

        if write_config and (not sweep or min_agreement is None):
            raise click.UsageError("--write-config needs --sweep and --recommend")
        if keras is not None or plot is not None:
            raise click.UsageError("--sweep takes no --keras or --plot")
        sweep_command(request, min_agreement, json_path, markdown, write_config)
        return
    report = run_bench(
        request,
        progress=lambda line: click.echo(f"edgexray: {line}", err=True),
        require_reference=min_agreement is not None,
    )
    recommendation = None if min_agreement is None else recommend(report.results, min_agreement)
    # Files first: a reader of stdout that leaves early (`| head`) must not cost the JSON report.
    if json_path:
        document = report.to_dict()
        if recommendation is not None:
            document["recommendation"] = recommendation.to_dict()
        write_text_atomically(json_path, json.dumps(document, indent=2) + "\n")
    if markdown:
        write_text_atomically(markdown, format_markdown(report))
    if plot:
        plot_latency_vs_agreement(report.results, plot)
    click.echo(format_table(report), nl=False)
    if recommendation is not None:
        require_comparison(report)
        click.echo(recommendation.describe())
    failed = [row for row in report.results if not row.ok]
    if failed:
        click.echo(
            f"edgexray: {len(failed)} of {len(report.results)} could not be measured", err=True
        )
        sys.exit(exit_codes.FATAL if len(failed) == len(report.results) else exit_codes.PARTIAL)
