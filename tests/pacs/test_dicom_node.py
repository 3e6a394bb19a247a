"""`edgexray dicom-node` against a real PACS: Orthanc from Debian, started on free ports in a
temporary folder; dcmtk's storescu stands in for the modality. Each study ends with one SR
referencing its image with the node's probability; then the faults: the PACS down while images
arrive, the node killed with -9 mid-association, a malformed object, a caller not allowed."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("highdicom")  # the [pacs] extra
pytest.importorskip("pynetdicom")
import highdicom as hd
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom"))
from dicom_files import PHI, dataset, ramp, save
from pacs_helpers import (
    MODALITY_AE,
    NODE_AE,
    Node,
    Orthanc,
    copies,
    echoscu,
    free_port,
    require_command,
    sample_files,
    storescu,
    wait_for,
)


@pytest.fixture
def orthanc(tmp_path):
    pacs = Orthanc(tmp_path / "orthanc", node_port=free_port()).start()
    yield pacs
    pacs.stop()


@pytest.fixture
def nodes(tmp_path):
    started: list[Node] = []

    def start(pacs: str, *args: str, state: Path | None = None) -> Node:
        node = Node(state or tmp_path / "state", pacs, *args).start()
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process is not None and node.process.poll() is None:
            node.stop(signal.SIGKILL)


def probability_in(sr_bytes: bytes) -> tuple[str, float, dict[str, str]]:
    """(the referenced source SOP Instance UID, the probability, the evaluations) of an SR."""
    document = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(io.BytesIO(sr_bytes)))
    (group,) = document.content.get_image_measurement_groups()
    (source,) = group.source_images
    (measurement,) = group.get_measurements()
    evaluations = {q.name.meaning: q.value.meaning for q in group.get_qualitative_evaluations()}
    return source.referenced_sop_instance_uid, measurement.value, evaluations


def reports_by_source(pacs: Orthanc) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for report in pacs.reports():
        source, probability, _ = probability_in(pacs.file(report["id"]))
        found.setdefault(source, []).append(probability)
    return found


def test_each_study_gets_one_sr_with_the_reference_and_probability(tmp_path, orthanc, nodes):
    node = nodes(
        orthanc.destination, "--allow-ae", MODALITY_AE, "--audit", str(tmp_path / "audit.jsonl")
    )
    assert echoscu(node.port).returncode == 0  # C-ECHO for monitoring
    files = sample_files()
    to_pacs = storescu(orthanc.dicom_port, files, called="ORTHANC")  # the modality's images
    assert to_pacs.returncode == 0, to_pacs.stderr
    sent = storescu(node.port, files)
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: len(orthanc.reports()) >= len(files), 120, "one SR per image in Orthanc")
    decisions = {d["record"]["source"]["sop_instance_uid"]: d for d in node.decisions()}
    studies = orthanc.instances_by_study()
    assert len(studies) == len(files)
    for instances in studies.values():
        images = [i for i in instances if i["Modality"] == "CR"]
        reports = [i for i in instances if i["Modality"] == "SR"]
        assert len(images) == 1 and len(reports) == 1, instances
        source, probability, evaluations = probability_in(orthanc.file(reports[0]["id"]))
        assert source == images[0]["SOPInstanceUID"]
        record = decisions[source]["record"]
        assert probability == record["probabilities"]["PNEUMONIA"]
        assert evaluations["Pneumonia"] == (
            "Present" if record["label"] == "PNEUMONIA" else "Absent"
        )
        assert decisions[source]["status"] == "classified"
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert sorted(a["mode"] for a in audit) == ["dicom-node"] * len(files)
    assert {a["decision_id"] for a in audit} == {d["decision_id"] for d in node.decisions()}


def test_the_overlay_goes_to_the_pacs_with_the_sr(orthanc, nodes):
    node = nodes(orthanc.destination, "--dicom-overlay")
    (image,) = sample_files()[2:3]
    assert storescu(node.port, [image]).returncode == 0
    wait_for(lambda: len(orthanc.get("/instances")) >= 2, 120, "the SR and the overlay")
    (study,) = orthanc.instances_by_study().values()
    assert sorted(i["Modality"] for i in study) == ["OT", "SR"]
    (overlay,) = [i for i in study if i["Modality"] == "OT"]
    assert overlay["BurnedInAnnotation"] == "YES" and overlay["ImageType"].startswith("DERIVED")
    # How the map was made: the demo model (the seed CNN) has no class evidence.
    assert overlay["DerivationDescription"].startswith("occlusion-keep heatmap of")


def test_objects_the_model_does_not_take_are_accepted_and_recorded_without_patient_data(
    tmp_path, orthanc, nodes
):
    node = nodes(orthanc.destination, "--audit", str(tmp_path / "audit.jsonl"))
    mr = save(dataset(ramp(48, 48, 12), bits_stored=12, modality="MR"), tmp_path / "mr.dcm")
    chest = save(dataset(ramp(64, 64, 12), bits_stored=12), tmp_path / "chest.dcm")
    document = pydicom.Dataset()  # not an image: a Basic Text SR with PHI in its header
    document.file_meta = pydicom.dataset.FileMetaDataset()
    document.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    document.SOPClassUID = document.file_meta.MediaStorageSOPClassUID = (
        "1.2.840.10008.5.1.4.1.1.88.11"
    )
    document.SOPInstanceUID = document.file_meta.MediaStorageSOPInstanceUID = (
        pydicom.uid.generate_uid()
    )
    document.StudyInstanceUID, document.SeriesInstanceUID = "1.2.3.4", "1.2.3.4.5"
    document.Modality = "SR"
    for keyword, value in PHI.items():
        setattr(document, keyword, value)
    text = tmp_path / "text-sr.dcm"
    document.save_as(text, enforce_file_format=True)
    sent = storescu(node.port, [mr, chest, text])
    assert sent.returncode == 0, sent.stderr  # a modality never sees a failure for them
    wait_for(lambda: len(node.decisions()) == 3, 60, "three decisions")
    by_status = {
        d["record"]["source"]["modality"] if d["record"].get("source") else "none": d
        for d in node.decisions()
    }
    assert by_status["MR"]["status"] == "unclassified"
    assert "Modality MR" in by_status["MR"]["record"]["error"]
    assert by_status["MR"]["results"] == []
    unclassified = [d for d in node.decisions() if d["status"] == "unclassified"]
    assert len(unclassified) == 2  # the MR image and the text document
    wait_for(lambda: len(orthanc.reports()) == 1, 60, "the chest image's SR")
    node.stop()
    outputs = (
        node.stderr
        + (node.state / "decisions.jsonl").read_text()
        + (tmp_path / "audit.jsonl").read_text()
    )
    for value in PHI.values():
        for form in (value, value.replace("^", " "), value.split("^")[0]):
            assert form not in outputs


def test_the_pacs_down_while_images_arrive_loses_nothing_and_sends_each_once(
    tmp_path, orthanc, nodes
):
    orthanc.stop()
    node = nodes(orthanc.destination)
    files = sample_files()
    sent = storescu(node.port, files)
    assert sent.returncode == 0, sent.stderr  # accepted while the PACS is down
    wait_for(lambda: len(node.decisions()) == len(files), 60, "the decisions")
    wait_for(lambda: "trying again" in node.stderr, 30, "a failed send")
    assert len(list((node.state / "outbox").glob("*.dcm"))) == len(files)
    orthanc.start()
    wait_for(lambda: len(node.sent()) == len(files), 60, "the outbox to empty")
    probabilities = reports_by_source(orthanc)
    assert sorted(len(p) for p in probabilities.values()) == [1] * len(files)
    assert len(set(node.sent())) == len(node.sent()) == len(files)
    assert list((node.state / "outbox").glob("*.dcm")) == []


def acknowledged(storescu_log: str) -> list[str]:
    """The files storescu (-v) was told were stored: each "Sending file" followed by a success."""
    done, current = [], None
    for line in storescu_log.splitlines():
        if "Sending file: " in line:
            current = line.split("Sending file: ", 1)[1].strip()
        elif "Received Store Response (Success)" in line and current is not None:
            done.append(current)
            current = None
    return done


def test_a_node_killed_mid_association_loses_nothing_and_sends_nothing_twice(
    tmp_path, orthanc, nodes
):
    files = copies(tmp_path / "images", 24)
    state = tmp_path / "state"
    audit = ["--audit", str(tmp_path / "audit.jsonl")]
    node = nodes(orthanc.destination, *audit, state=state)
    log = tmp_path / "storescu.log"
    with log.open("w") as output:
        modality = subprocess.Popen(
            [require_command("storescu", "dcmtk"), "-v", "-xr", "-aet", MODALITY_AE,
             "-aec", NODE_AE, "127.0.0.1", str(node.port), *map(str, files)],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: len(node.decisions()) >= 2, 60, "a few decisions")
        assert node.stop(signal.SIGKILL) == -signal.SIGKILL
        assert modality.wait(timeout=60) != 0  # the modality saw the association break
    stored = acknowledged(log.read_text())
    decided_before = {d["sha256"] for d in node.decisions()}
    spooled = list((state / "spool").glob("*.dcm"))
    # The kill came with objects acknowledged and not yet decided, and some not yet sent.
    assert spooled and len(stored) < len(files), (len(stored), len(decided_before))
    restarted = nodes(orthanc.destination, *audit, state=state)
    # The modality sends again what it was not told was stored, and two it was (a retry).
    again = [f for f in files if str(f) not in stored] + [Path(p) for p in stored[:2]]
    resent = storescu(restarted.port, again)
    assert resent.returncode == 0, resent.stderr
    sources = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    wait_for(lambda: len(reports_by_source(orthanc)) >= len(sources), 120, "an SR per image")
    wait_for(lambda: len(restarted.sent()) >= len(files), 60, "the sent log")
    decided = [d["record"]["source"]["sop_instance_uid"] for d in restarted.decisions()]
    assert sorted(decided) == sorted(sources)  # each object decided once, none lost
    probabilities = reports_by_source(orthanc)
    assert set(probabilities) == sources
    assert all(len(p) == 1 for p in probabilities.values())  # one SR per image in the PACS
    assert len(set(restarted.sent())) == len(restarted.sent())
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    audited = sorted(json.loads(line)["decision_id"] for line in lines)
    assert audited == sorted(d["decision_id"] for d in restarted.decisions())  # each once


def test_a_malformed_object_is_accepted_recorded_and_the_node_goes_on(tmp_path, orthanc, nodes):
    from pynetdicom import AE

    node = nodes(orthanc.destination)
    broken = pydicom.dcmread(sample_files()[0])
    broken.decompress()
    broken.PixelData = broken.PixelData[:100]  # far shorter than Rows x Columns says
    broken.SOPInstanceUID = pydicom.uid.generate_uid()
    ae = AE(ae_title=MODALITY_AE)
    ae.add_requested_context(broken.SOPClassUID, broken.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", node.port, ae_title=NODE_AE)
    assert assoc.is_established
    status = assoc.send_c_store(broken)
    assoc.release()
    assert status.Status == 0x0000
    wait_for(lambda: len(node.decisions()) == 1, 60, "the malformed object's record")
    (decision,) = node.decisions()
    assert decision["status"] == "unclassified" and decision["record"]["error"]
    good = storescu(node.port, sample_files()[:1])
    assert good.returncode == 0, good.stderr
    wait_for(lambda: len(orthanc.reports()) == 1, 60, "the good image's SR")


def test_an_unknown_calling_ae_or_address_is_rejected(tmp_path, orthanc, nodes):
    node = nodes(orthanc.destination, "--allow-ae", MODALITY_AE)
    refused = storescu(node.port, sample_files()[:1], calling="INTRUDER")
    assert refused.returncode != 0
    assert "Association Rejected" in refused.stderr or "rejected" in refused.stderr.lower()
    assert node.decisions() == [] and list((node.state / "spool").glob("*.dcm")) == []
    assert echoscu(node.port).returncode == 0
    node.stop()
    elsewhere = nodes(
        orthanc.destination, "--allow-address", "10.9.8.0/24", state=tmp_path / "state2"
    )
    assert echoscu(elsewhere.port).returncode != 0
    wait_for(lambda: "not an allowed address" in elsewhere.stderr, 10, "the closed connection")


def test_an_object_over_the_size_limit_is_refused_and_kept_nowhere(tmp_path, nodes):
    big = save(dataset(ramp(1024, 1024, 16), bits_stored=16), tmp_path / "big.dcm")  # 2 MiB
    node = nodes("PACS@127.0.0.1:9", "--max-object-mb", "1")
    sent = storescu(node.port, [big])
    assert sent.returncode != 0  # storescu ends with an error when a store fails
    wait_for(lambda: "over the limit of 1048576" in node.stderr, 10, "the refusal")
    assert node.decisions() == [] and list((node.state / "spool").glob("*.dcm")) == []
    assert storescu(node.port, sample_files()[:1]).returncode == 0  # a small one is taken
    wait_for(lambda: len(node.decisions()) == 1, 60, "the small object's decision")


def test_with_tls_the_node_speaks_only_tls(tmp_path, nodes):
    import ssl

    from pynetdicom import AE

    openssl = require_command("openssl", "openssl")
    cert, key = tmp_path / "node.crt", tmp_path / "node.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=edgexray-test", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    node = nodes("PACS@127.0.0.1:9", "--tls-cert", str(cert), "--tls-key", str(key))
    ae = AE(ae_title=MODALITY_AE)
    ae.add_requested_context("1.2.840.10008.1.1")
    context = ssl.create_default_context(cafile=str(cert))
    assoc = ae.associate("127.0.0.1", node.port, ae_title=NODE_AE, tls_args=(context, "127.0.0.1"))
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    assert echoscu(node.port).returncode != 0  # in the clear: no association
