"""A decision on a DICOM image as DICOM objects a PACS files next to the study (highdicom):

- a Comprehensive 3D SR holding a TID 1500 Measurement Report: the source image referenced (study,
  series, instance), for each reported label its finding code (edgexray.pacs.codes), the
  probability as a numeric measurement (DCM 122157 "Probability", unit 1) and the decision at the
  card's threshold as a qualitative evaluation (the finding Present / Absent), the input check's
  outcome, the algorithm's identity (model name, variant and SHA-256, card state and digest, signer
  when signed, threshold, engine) and, when the card says so, "not for clinical use";
- with `overlay`, a Secondary Capture of the heatmap overlay: derived, burned-in annotation YES,
  the source's laterality and patient orientation (L\\F, the radiographic convention, when the
  source has none).

The patient and study modules are copied from the source (a PACS files objects by them): that is
the only place patient data goes. The source header is parsed from the bytes the decision was made
on (the InputFile read once); nothing of it reaches a record, a log or an audit line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgexray import __version__
from edgexray.atomic import fsync_folder, write_bytes_atomically
from edgexray.card import ModelCard
from edgexray.errors import EdgexrayError
from edgexray.model_identity import ModelIdentity
from edgexray.pacs import codes
from edgexray.pacs.settings import ResultSettings
from edgexray.pacs.uids import derived_uid
from edgexray.prediction import Prediction
from edgexray.preprocessing.input_file import InputFile

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from edgexray.explain import Explanation

SR_SERIES_NUMBER = 9901
OVERLAY_SERIES_NUMBER = 9902
_DEFAULT_ORIENTATION = ("L", "F")  # a PA chest film as displayed: columns to the patient's left


class ResultError(EdgexrayError):
    """A DICOM result cannot be made for an input (its header cannot be parsed again, or it
    changed since it was decided)."""


@dataclass(frozen=True)
class DicomResult:
    """One object to file: `kind` (`sr` or `overlay`), its SOP Instance UID, its encoded bytes
    (a DICOM Part 10 file) and the name it is written under."""

    kind: str
    sop_instance_uid: str
    data: bytes

    @property
    def file_name(self) -> str:
        return f"{self.sop_instance_uid}.dcm"


def is_dicom_decision(prediction: Prediction) -> bool:
    """Whether `prediction` is a decision (or a refusal by the input checks) on a DICOM image:
    what a result is made for. Errors (unreadable, no image) get none."""
    source = prediction.source or {}
    return prediction.error is None and source.get("format") == "dicom"


def _code(code: codes.Code) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(code.value, code.scheme, code.meaning)


def _header(source: InputFile) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        header = pydicom.dcmread(io.BytesIO(source.data), stop_before_pixels=True, force=True)
    except (InvalidDicomError, ValueError, EOFError, OSError) as exc:
        # The exception's text could quote an element's value: its type only.
        raise ResultError(
            f"{source.name}: DICOM header unreadable ({type(exc).__name__})"
        ) from None
    missing = [keyword for keyword in _IDENTIFIERS if not header.get(keyword)]
    if missing:
        raise ResultError(f"{source.name}: no {', '.join(missing)} in the DICOM header")
    return _with_type2(header)


# Type 2 attributes of the Patient and General Study modules: present, possibly empty, in every
# object. A source without one (the synthetic samples have no birth date) gets it empty.
_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


_IDENTIFIERS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


def _with_type2(header: Dataset) -> Dataset:
    for keyword in _TYPE2:
        if keyword not in header:
            setattr(header, keyword, "")
    return header


def _encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Uids:
    """The UIDs of one input's results: named by the input, the model and the kind of object, so
    a result made again (a restart after a crash) is the same instance."""

    root: str
    seed: tuple[str, ...]

    def of(self, *name: str) -> str:
        return derived_uid(self.root, *self.seed, *name)


class DicomResults:
    """Makes the DICOM results of one model's decisions. Raises ValueError when a label the report
    needs has no finding code (see edgexray.pacs.codes)."""

    def __init__(self, identity: ModelIdentity, card: ModelCard, settings: ResultSettings) -> None:
        self.identity = identity
        self.card = card
        self.settings = settings
        self.findings = codes.finding_codes(card.labels, card.task == "binary", settings.codes)
        self.not_for_clinical_use = codes.says_not_for_clinical_use(card.intended_use)
        #: The device observer of every report: this model.
        self.device_uid = derived_uid(settings.uid_root, "device", identity.sha256)
        # What, besides the input, makes a result: the same input and these give the same UIDs.
        self._maker = (
            identity.sha256,
            identity.card_sha256 or "",
            ";".join(f"{label}={code}" for label, code in sorted(self.findings.items())),
        )

    def make(
        self, source: InputFile, prediction: Prediction, explanation: Explanation | None = None
    ) -> list[DicomResult]:
        """The SR (and the overlay SC, when `explanation` is given and the settings ask) of
        `prediction`, made on `source`. ResultError when `source` is not what was decided (its
        SHA-256 differs) or its header cannot be parsed."""
        if prediction.sha256 is not None and prediction.sha256 != source.sha256:
            raise ResultError(f"{source.name}: changed since it was classified; no DICOM result")
        if not is_dicom_decision(prediction):
            raise ResultError(f"{source.name}: no decision on a DICOM image to report")
        header = _header(source)
        uid = _Uids(self.settings.uid_root, (source.sha256, *self._maker))
        try:
            results = [DicomResult("sr", *self._report(header, prediction, uid))]
            if self.settings.overlay and explanation is not None:
                results.append(DicomResult("overlay", *self._overlay(header, explanation, uid)))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # highdicom refuses a source attribute (an invalid Patient's Sex, a malformed date):
            # one line naming the input, the exception's type only (its text could quote a value).
            raise ResultError(
                f"{source.name}: highdicom cannot make a result from this header "
                f"({type(exc).__name__})"
            ) from None
        return results

    # The SR -----------------------------------------------------------------------------------

    def _algorithm(self) -> Any:
        from highdicom.sr import AlgorithmIdentification

        identity = self.identity
        parameters = [
            f"model file {identity.file}",
            f"model sha256 {identity.sha256}",
            f"card {identity.card}",
            f"card sha256 {identity.card_sha256 or 'none'}",
            f"signer {identity.signer or 'not signed'}",
            f"engine {identity.engine} {identity.engine_version}",
        ]
        if identity.threshold is not None:
            parameters.append(f"threshold {identity.threshold:g}")
        parameters.extend(f"override {o.field}" for o in identity.overrides)
        return AlgorithmIdentification(
            name=identity.name,
            version=f"{identity.variant} {identity.sha256[:16]}",
            parameters=parameters,
            manufacturer=f"{self.settings.manufacturer} {__version__}",
        )

    def _group(self, header: Dataset, prediction: Prediction, label: str, uid: _Uids) -> Any:
        import highdicom.sr as sr

        algorithm = self._algorithm()
        finding = self.findings[label]
        evaluations = [
            sr.QualitativeEvaluation(
                _code(codes.INPUT_CHECK),
                _code(codes.INPUT_CHECK_OUTCOMES[prediction.input_check.status]),
            )
        ]
        if self.not_for_clinical_use:
            evaluations.append(
                sr.QualitativeEvaluation(
                    _code(codes.INTENDED_USE), _code(codes.NOT_FOR_CLINICAL_USE)
                )
            )
        measurements = []
        if prediction.ok:
            present = prediction.label == label
            evaluations.insert(
                0,
                sr.QualitativeEvaluation(
                    _code(finding), _code(codes.PRESENT if present else codes.ABSENT)
                ),
            )
            measurements.append(
                sr.Measurement(
                    name=_code(codes.PROBABILITY),
                    value=prediction.probabilities[label],
                    unit=_code(codes.NO_UNITS),
                    algorithm_id=algorithm,
                )
            )
        return sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=sr.TrackingIdentifier(
                uid=uid.of("tracking", label), identifier=f"{label} finding"
            ),
            finding_type=_code(finding),
            algorithm_id=algorithm,
            measurements=measurements,
            qualitative_evaluations=evaluations,
            source_images=[sr.SourceImageForMeasurementGroup.from_source_image(header)],
        )

    def _report(self, header: Dataset, prediction: Prediction, uid: _Uids) -> tuple[str, bytes]:
        import highdicom.sr as sr
        from pydicom.sr.codedict import codes as dcm

        observer = sr.ObserverContext(
            observer_type=dcm.DCM.Device,
            observer_identifying_attributes=sr.DeviceObserverIdentifyingAttributes(
                uid=self.device_uid,
                name=self.settings.manufacturer,
                model_name=self.identity.name,
            ),
        )
        report = sr.MeasurementReport(
            observation_context=sr.ObservationContext(observer_device_context=observer),
            procedure_reported=_code(codes.CHEST_XRAY),
            imaging_measurements=[
                self._group(header, prediction, label, uid) for label in self.findings
            ],
            referenced_images=[header] if _describable(header) else None,
        )
        instance = self._new_instance(uid, "sr", SR_SERIES_NUMBER)
        document = sr.Comprehensive3DSR(
            evidence=[header],
            content=report[0],
            is_complete=True,
            series_description=self._description("AI result"),
            **instance,
        )
        document.CodingSchemeIdentificationSequence = [_local_scheme()]
        return instance["sop_instance_uid"], _encoded(document)

    def _new_instance(self, uid: _Uids, kind: str, series_number: int) -> dict[str, Any]:
        """The identity of a new object, alone in a new series: highdicom's keyword arguments."""
        return {
            "series_instance_uid": uid.of(kind, "series"),
            "series_number": series_number,
            "sop_instance_uid": uid.of(kind, "instance"),
            "instance_number": 1,
            "manufacturer": self.settings.manufacturer,
        }

    def _description(self, what: str) -> str:
        text = f"{what} {self.identity.name}"
        if self.not_for_clinical_use:
            text += " NOT FOR CLINICAL USE"
        return text[:64]

    # The overlay ------------------------------------------------------------------------------

    def _overlay(self, header: Dataset, explanation: Explanation, uid: _Uids) -> tuple[str, bytes]:
        import numpy as np
        from highdicom.sc import SCImage

        pixels = np.asarray(explanation.overlay.convert("RGB"), dtype=np.uint8)
        orientation = header.get("PatientOrientation") or _DEFAULT_ORIENTATION
        # General Series Laterality is Type 2C: the source's, else empty (a chest is not paired).
        laterality = header.get("Laterality") or None
        instance = self._new_instance(uid, "overlay", OVERLAY_SERIES_NUMBER)
        image = SCImage.from_ref_dataset(
            header,
            pixels,
            photometric_interpretation="RGB",
            bits_allocated=8,
            coordinate_system="PATIENT",
            laterality=laterality,
            patient_orientation=tuple(orientation),
            **instance,
        )
        if laterality is None:
            image.Laterality = ""
        if header.get("ImageLaterality"):
            image.ImageLaterality = header.ImageLaterality
        image.ImageType = ["DERIVED", "SECONDARY"]
        image.BurnedInAnnotation = "YES"
        image.SeriesDescription = self._description(f"AI heatmap {explanation.target}")
        image.DerivationDescription = (
            f"{explanation.method} heatmap of {explanation.target} drawn over the image as the "
            "model saw it"
        )[:1024]
        source = _reference(header)
        image.SourceImageSequence = [source]
        return instance["sop_instance_uid"], _encoded(image)


def _describable(header: Dataset) -> bool:
    """Whether the image library can describe the source: highdicom's projection radiography
    descriptors (TID 1603) need Patient Orientation and Imager Pixel Spacing. Without them the
    source is still referenced by the measurement groups and the evidence sequence."""
    modality = str(header.get("Modality", ""))
    projection = modality in ("CR", "DX", "RG", "MG", "IO", "PX", "RF", "XA")
    return not projection or ("PatientOrientation" in header and "ImagerPixelSpacing" in header)


def _local_scheme() -> Dataset:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = codes.LOCAL_SCHEME
    item.CodingSchemeName = "edgexray local codes (docs/dicom-node.md)"
    item.CodingSchemeResponsibleOrganization = "edgexray"
    return item


def _reference(header: Dataset) -> Dataset:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.ReferencedSOPClassUID = header.SOPClassUID
    item.ReferencedSOPInstanceUID = header.SOPInstanceUID
    return item


def write_results(folder: Path, results: list[DicomResult]) -> list[Path]:
    """Write each result into `folder` atomically (a reader sees no file or the whole file), the
    folder synced once."""
    paths = []
    for result in results:
        path = Path(folder) / result.file_name
        write_bytes_atomically(path, result.data, sync_folder=False)
        paths.append(path)
    if paths:
        fsync_folder(Path(folder))
    return paths
