"""`classify --dicom-sr DIR`: the DICOM results of each DICOM decision written into a folder.

The results are made from the bytes the decision was made on: the file is read again here only to
get its header for the SR, and its SHA-256 must equal the decision's (a file changed in between
gets no result, and an error line). With `overlay`, the heatmap comes from the classifier's own
explain (the same decision path: input checks, trust policy)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgexray.errors import EdgexrayError, ImageError
from edgexray.extras import install_hint
from edgexray.pacs.results import DicomResults, ResultError, is_dicom_decision, write_results
from edgexray.pacs.settings import ResultSettings
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile, read_input

if TYPE_CHECKING:  # pragma: no cover
    from edgexray.classifier import Classifier
    from edgexray.explain import Explanation


class MissingExtraError(EdgexrayError):
    """A feature needs an optional extra that is not installed."""


def require_pacs_extra(*modules: str) -> None:
    """MissingExtraError (one line, exit 1) when one of `modules` (default: highdicom) is not
    installed."""
    import importlib.util

    for module in modules or ("highdicom",):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(
                f"this needs {module}, which is not installed: {install_hint('pacs')}"
            )


def explanation_for(classifier: Classifier, source: InputFile) -> Explanation | None:
    """The heatmap explanation of the decision on `source`; None when the input checks refused
    it (no map is made of an image the model is not fit to judge) or the engine failed on the
    occluded copies (the SR goes without its overlay rather than not at all)."""
    try:
        return classifier.explain(source)
    except EdgexrayError:  # InputRejected included
        return None


class ResultFolder:
    """Writes the results of DICOM decisions into `folder` (made if missing)."""

    def __init__(self, classifier: Classifier, settings: ResultSettings, folder: Path) -> None:
        require_pacs_extra()
        self.classifier = classifier
        self.results = DicomResults(classifier.identity, classifier.card, settings)
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, prediction: Prediction) -> str | None:
        """Write the results of `prediction` (nothing for an error or a non-DICOM input); the
        reason, one line, when they could not be made."""
        if not is_dicom_decision(prediction) or prediction.path is None:
            return None
        try:
            source = read_input(prediction.path, self.classifier.options.max_bytes)
            explanation = (
                explanation_for(self.classifier, source)
                if self.results.settings.overlay and prediction.ok
                else None
            )
            write_results(self.folder, self.results.make(source, prediction, explanation))
        except (ResultError, ImageError) as exc:
            return str(exc)
        except OSError as exc:
            return f"cannot write into {self.folder}: {exc.strerror or exc}"
        return None
