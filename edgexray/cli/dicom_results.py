"""The option group of `classify` for DICOM results (docs/dicom-node.md): --dicom-sr DIR,
--dicom-overlay, --dicom-uid-root, --dicom-code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from edgexray.pacs.codes import Code, parse_mapping
from edgexray.pacs.settings import ResultSettings
from edgexray.pacs.uids import DEFAULT_ROOT, check_root

if TYPE_CHECKING:  # pragma: no cover
    from edgexray.classifier import Classifier
    from edgexray.pacs.folder import ResultFolder

F = TypeVar("F", bound=Callable[..., Any])


def _codes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, Code]:
    try:
        return parse_mapping(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _root(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_root(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


uid_root_option = click.option(
    "--dicom-uid-root",
    default=DEFAULT_ROOT,
    show_default=True,
    callback=_root,
    envvar="EDGEXRAY_DICOM_UID_ROOT",
    help="Organisation UID root of the DICOM results (default: UUID-derived under 2.25). "
    "Env: EDGEXRAY_DICOM_UID_ROOT.",
)
code_option = click.option(
    "--dicom-code",
    "dicom_codes",
    multiple=True,
    callback=_codes,
    metavar="LABEL=SCHEME:VALUE:MEANING",
    help="The finding code of a label in the DICOM SR (repeatable), e.g. "
    "PNEUMONIA=SCT:233604007:Pneumonia; common labels have defaults (docs/dicom-node.md).",
)
overlay_option = click.option(
    "--dicom-overlay",
    is_flag=True,
    help="Also send/write a Secondary Capture of the heatmap overlay (an occlusion map: "
    "many engine calls per image).",
)
_OPTIONS = (
    click.option(
        "--dicom-sr",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Write a DICOM SR (TID 1500) of each DICOM input's decision into DIR "
        "(needs the [pacs] extra; docs/dicom-node.md).",
    ),
    overlay_option,
    uid_root_option,
    code_option,
)


def dicom_result_options(function: F) -> F:
    """--dicom-sr, --dicom-overlay, --dicom-uid-root, --dicom-code (into the command's **flags;
    `result_folder_from` takes them out)."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def settings_from(overlay: bool, uid_root: str, codes: dict[str, Code]) -> ResultSettings:
    return ResultSettings(uid_root=uid_root, codes=codes, overlay=overlay)


def result_folder_from(flags: dict[str, Any], classifier: Classifier) -> ResultFolder | None:
    """The folder the results go to (None without --dicom-sr), the flags removed from `flags`.
    UsageError (exit 2) for --dicom-overlay without --dicom-sr, or a label without a code."""
    from edgexray.pacs.folder import ResultFolder

    folder = flags.pop("dicom_sr")
    settings = settings_from(
        flags.pop("dicom_overlay"), flags.pop("dicom_uid_root"), flags.pop("dicom_codes")
    )
    if folder is None:
        if settings.overlay:
            raise click.UsageError("--dicom-overlay needs --dicom-sr DIR")
        return None
    try:
        return ResultFolder(classifier, settings, folder)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write into {folder}: {exc.strerror or exc}", param_hint="'--dicom-sr'"
        ) from None
