"""Click options shared by several commands."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar, cast

import click

from edgexray.card import INTERPOLATIONS, NORMALIZATIONS, OUTPUT_KINDS
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import ClassifierOptions
from edgexray.cli.ray_classify import DEFAULT_CONNECT_TIMEOUT_S
from edgexray.demo import default_model
from edgexray.engines import ENGINES
from edgexray.inputcheck import DEFAULT_MODE, INPUT_CHECK_MODES
from edgexray.precision import EXACT, PRECISIONS
from edgexray.preprocessing.dicom import DicomOptions, parse_window
from edgexray.signing.rules import OVERRIDABLE, TrustRules, parse_min_version, rules_from_options

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class RunSettings:
    """The group's own flags (`edgexray -v --debug COMMAND`), the click context object of every
    command. verbose: let the inference engine's messages through. debug: a traceback for an
    unexpected error (main() reads it)."""

    verbose: bool = False
    debug: bool = False


def run_settings() -> RunSettings:
    """The settings of the running command (defaults outside the `edgexray` group)."""
    ctx = click.get_current_context(silent=True)
    settings = ctx.find_object(RunSettings) if ctx is not None else None
    return settings if settings is not None else RunSettings()


def _labels(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    if value is None:
        return None
    labels = tuple(part.strip() for part in value.split(","))
    if len(labels) < 2 or not all(labels):
        raise click.BadParameter(
            "give at least two comma-separated class names, e.g. NORMAL,PNEUMONIA"
        )
    return labels


threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    envvar="EDGEXRAY_THREADS",
    help="Engine threads (default: one per core this process may use). Env: EDGEXRAY_THREADS.",
)
model_option = click.option(
    "-m",
    "--model",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Model file (.tflite or .onnx). Default: the bundled demo model.",
)
audit_option = click.option(
    "--audit",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Append one JSON line per decision to FILE, fsync'd (docs/kiosk.md).",
)
engine_option = click.option(
    "--engine",
    type=click.Choice(sorted(ENGINES)),
    default=None,
    help="Inference engine (default: by file type: .tflite -> litert, .onnx -> onnxruntime).",
)
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=EXACT,
    show_default=True,
    envvar="EDGEXRAY_PRECISION",
    help="The engine's arithmetic. f32 is exact; bf16 or f16 (OpenVINO, where the CPU has it) "
    "only as `bench --sweep` measured its parity (docs/bench.md). Env: EDGEXRAY_PRECISION.",
)

input_check_option = click.option(
    "--input-check",
    type=click.Choice(INPUT_CHECK_MODES),
    default=DEFAULT_MODE,
    show_default=True,
    envvar="EDGEXRAY_INPUT_CHECK",
    help="strict: an image the input checks refuse gets no label, a 'rejected' reason, and the "
    "run exits 3; warn: keep the label and flag it; off: no checks. Env: EDGEXRAY_INPUT_CHECK.",
)

trusted_key_option = click.option(
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="EDGEXRAY_TRUSTED_KEYS",
    help="Public key file (repeatable): run only model files signed by one of these keys. "
    "Env: EDGEXRAY_TRUSTED_KEYS, files separated by ':'.",
)

allow_unsealed_card_option = click.option(
    "--allow-unsealed-card",
    is_flag=True,
    envvar="EDGEXRAY_ALLOW_UNSEALED_CARD",
    help="Run a model whose card has no digest: an edit to its threshold, labels or checks "
    'cannot be detected. Every record then says "card": "legacy". '
    "Env: EDGEXRAY_ALLOW_UNSEALED_CARD.",
)


def _min_version(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    for text in value:
        try:
            parse_min_version(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def _digests(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        TrustRules(allowed_digests=frozenset(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


#: The rules that judge a model file itself (`verify` takes these alone).
file_rule_options = (
    click.option(
        "--min-model-version",
        "min_model_versions",
        multiple=True,
        metavar="NAME=N",
        callback=_min_version,
        help="With --trusted-key (repeatable): run a model named NAME only when its signature "
        "binds version N or later (docs/signing.md).",
    ),
    click.option(
        "--allowed-model-digest",
        "allowed_model_digests",
        multiple=True,
        metavar="SHA256",
        callback=_digests,
        help="With --trusted-key (repeatable): run only model files with one of these SHA-256 "
        "digests (the `model.sha256` of a record).",
    ),
    click.option(
        "--allow-degraded-model",
        is_flag=True,
        help="Under a trust policy, run a signed variant the export gate flagged degraded.",
    ),
)

#: All the trust policy's rules: the file's, and which card values a run may replace.
trust_rule_options = (
    *file_rule_options,
    click.option(
        "--allow-override",
        "allow_overrides",
        multiple=True,
        type=click.Choice(OVERRIDABLE),
        help="Under a trust policy (repeatable): let --NAME (a flag, the environment or a "
        "configuration file) replace the signed card's value; refused otherwise.",
    ),
)


def trust_options(function: F) -> F:
    """The options that decide which model files run: --trusted-key, --allow-unsealed-card, and
    the trust policy's rules (--min-model-version, --allowed-model-digest, --allow-degraded-model,
    --allow-override), which the command receives as one keyword argument, `trust_rules`
    (TrustRules)."""

    @functools.wraps(function)
    def command(*args: Any, **params: Any) -> Any:
        try:
            rules = rules_from_options(
                params.pop("min_model_versions"),
                params.pop("allowed_model_digests"),
                params.pop("allow_degraded_model"),
                params.pop("allow_overrides"),
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if rules.needs_keys and not params["trusted_keys"]:
            raise click.UsageError(
                "--min-model-version and --allowed-model-digest need --trusted-key (or "
                "EDGEXRAY_TRUSTED_KEYS, or trusted-key in edgexray.toml)"
            )
        return function(*args, trust_rules=rules, **params)

    return cast(
        F,
        option_group(trusted_key_option, allow_unsealed_card_option, *trust_rule_options)(command),
    )


def card_override_options(function: F) -> F:
    """--labels/--normalize/--interpolation/--outputs/--threshold: the facts a card-less model needs,
    or overrides of the card's own (e.g. a site-specific decision threshold). The command receives
    them as keyword arguments; turn them into CardOverrides with overrides_from."""
    for option in reversed(
        (
            click.option(
                "--labels", callback=_labels, help="Class names in output order, comma-separated."
            ),
            click.option(
                "--normalize",
                type=click.Choice(NORMALIZATIONS),
                help="Pixel normalization used in training.",
            ),
            click.option(
                "--interpolation",
                type=click.Choice(INTERPOLATIONS),
                help="Resize filter used in training.",
            ),
            click.option(
                "--outputs",
                "output_kind",
                type=click.Choice(OUTPUT_KINDS),
                help="What the model outputs.",
            ),
            click.option(
                "--threshold",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                help="Decision threshold of a binary model.",
            ),
        )
    ):
        function = option(function)
    return function


def overrides_from(params: dict[str, Any]) -> CardOverrides:
    """The CardOverrides in a command's keyword arguments from card_override_options (removed from
    `params`); the option destinations are named like CardOverrides' fields."""
    return CardOverrides(**{f.name: params.pop(f.name, None) for f in fields(CardOverrides)})


def _window(ctx: click.Context, param: click.Parameter, value: str) -> object:
    try:
        return parse_window(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _codes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    codes = tuple(part.strip().upper() for part in value.split(","))
    if not all(codes):
        raise click.BadParameter("give comma-separated codes, e.g. CR,DX")
    return codes


def dicom_options(function: F) -> F:
    """--dicom-window/--dicom-gate/--dicom-modalities (docs/dicom.md); turn them into DicomOptions
    with dicom_options_from."""
    for option in reversed(
        (
            click.option(
                "--dicom-window",
                callback=_window,
                default="first",
                show_default=True,
                help="DICOM VOI to apply: first, full-range (the image's own min..max), or a "
                "window number N (0 = the first).",
            ),
            click.option(
                "--dicom-gate",
                type=click.Choice(("on", "off")),
                default="on",
                show_default=True,
                help="Refuse DICOM files whose Modality, Body Part Examined or View Position "
                "is not what the model reads (exit 3, the others go on).",
            ),
            click.option(
                "--dicom-modalities",
                callback=_codes,
                default=",".join(DicomOptions().modalities),
                show_default=True,
                help="Modalities the DICOM gate lets through, comma-separated.",
            ),
        )
    ):
        function = option(function)
    return function


def dicom_options_from(params: dict[str, Any]) -> DicomOptions:
    """The DicomOptions in a command's keyword arguments from dicom_options (removed from `params`)."""
    return DicomOptions(
        window=params.pop("dicom_window"),
        gate=params.pop("dicom_gate") == "on",
        modalities=params.pop("dicom_modalities"),
    )


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event SIGTERM and SIGINT set, for a long-running command's loop to end on (watch,
    dicom-node); the previous handlers are back when the block ends."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def model_or_demo(model: Path | None) -> Path:
    """`model`, or the bundled demo model with a note on stderr that it is not for clinical use."""
    if model is not None:
        return model
    model = default_model()
    click.echo(
        f"edgexray: using the demo model {model.name}: trained on synthetic images, "
        "for demonstration only, not for clinical use",
        err=True,
    )
    return model


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def option_group(*options: Decorator) -> Decorator:
    """One decorator that adds `options`, in this order, to a command."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


# The option groups the commands that run a model share (classify, watch, serve, explain, bench):
# one decorator per group, so a flag is declared once and means the same everywhere. A command takes
# a group whole or not at all; bench, which measures several files on the engines their suffixes
# name, takes --threads, --trusted-key and card_override_options alone (-m is repeatable there).
model_options = option_group(model_option, card_override_options)
engine_options = option_group(engine_option, threads_option, precision_option)
input_check_options = option_group(input_check_option)
audit_options = option_group(audit_option)
#: The groups that decide how a model decides, for every command that classifies with one model
#: (classify, watch, serve, explain): model and card overrides, engine, input check, trust, DICOM.
decision_options = option_group(
    model_options, engine_options, input_check_options, trust_options, dicom_options
)
#: Every group, by name (what tests/runtime/test_explain.py compares across the commands).
OPTION_GROUPS: dict[str, Decorator] = {
    "model": model_options,
    "engine": engine_options,
    "input check": input_check_options,
    "trust": trust_options,
    "dicom": dicom_options,
    "audit": audit_options,
}


def classifier_options_from(params: dict[str, Any], **settings: Any) -> ClassifierOptions:
    """The ClassifierOptions in a command's keyword arguments from engine_options,
    input_check_options, trust_options (its rules included) and (when the command has them)
    dicom_options, removed from `params`; `settings`: the command's own ClassifierOptions fields
    (batch_size...)."""
    dicom = dicom_options_from(params) if "dicom_window" in params else DicomOptions()
    return ClassifierOptions(
        threads=params.pop("threads"),
        engine=params.pop("engine"),
        verbose=run_settings().verbose,
        input_check=params.pop("input_check"),
        trusted_keys=params.pop("trusted_keys"),
        allow_unsealed_card=params.pop("allow_unsealed_card"),
        dicom=dicom,
        trust_rules=params.pop("trust_rules", None) or TrustRules(),
        precision=params.pop("precision"),
        **settings,
    )


def ray_options(function: F) -> F:
    """--ray [ADDRESS], --actors and --ray-timeout (docs/scale.md); the address is "local" when
    none is given."""
    for option in reversed(
        (
            click.option(
                "--ray",
                "ray_address",
                is_flag=False,
                flag_value="local",
                default=None,
                metavar="[ADDRESS]",
                help="Run on Ray actors (needs edgexray[ray]; docs/scale.md). Without ADDRESS "
                "(host:port, ray://host:port, auto) starts a local Ray with this process's "
                "cores, or joins RAY_ADDRESS.",
            ),
            click.option(
                "--actors",
                type=click.IntRange(min=1),
                default=None,
                help="With --ray: actors (model copies) in the pool. Default: one per CPU of "
                "the cluster.",
            ),
            click.option(
                "--ray-timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=DEFAULT_CONNECT_TIMEOUT_S,
                show_default=True,
                envvar="EDGEXRAY_RAY_TIMEOUT",
                help="With --ray ADDRESS: seconds to reach the cluster; past them, one line and "
                "exit 1. Env: EDGEXRAY_RAY_TIMEOUT.",
            ),
        )
    ):
        function = option(function)
    return function
