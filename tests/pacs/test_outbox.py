"""The outbox's sender against a PACS stand-in (a pynetdicom SCP in this process): filed results
leave the outbox into the sent log, refused ones go to refused/ (not retried), an unreachable PACS
leaves them waiting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("highdicom")
pytest.importorskip("pynetdicom")
import pydicom
from pacs_helpers import SAMPLES
from pynetdicom import AE, evt

from edgexray.classifier import Classifier
from edgexray.demo import default_model
from edgexray.pacs.node_settings import Destination
from edgexray.pacs.outbox import Outbox, Sender
from edgexray.pacs.results import DicomResults
from edgexray.pacs.settings import ResultSettings
from edgexray.preprocessing.input_file import read_input

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox")
    with Classifier(default_model()) as classifier:
        source = read_input(SAMPLES / "NORMAL" / "NORMAL_00000.dcm", 1 << 27)
        writer = DicomResults(classifier.identity, classifier.card, ResultSettings())
        box.add(writer.make(source, classifier.predict(source)))
    # An object of a class the stand-in PACS does not take (a CR image).
    image = pydicom.dcmread(SAMPLES / "PNEUMONIA" / "PNEUMONIA_00000.dcm")
    shutil.copy(
        SAMPLES / "PNEUMONIA" / "PNEUMONIA_00000.dcm", box.folder / f"{image.SOPInstanceUID}.dcm"
    )
    yield box
    box.close()


def pacs(status: int) -> tuple[object, Destination]:
    ae = AE(ae_title="STANDIN")
    ae.add_supported_context(SR_CLASS)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, lambda event: status)]
    )
    return server, Destination("STANDIN", "127.0.0.1", server.server_address[1])


def test_filed_results_leave_the_outbox_and_refused_ones_are_set_aside(outbox):
    server, destination = pacs(0x0000)
    messages: list[str] = []
    try:
        outcome = Sender(outbox, destination, "EDGEXRAY", messages.append).send_round()
    finally:
        server.shutdown()
    assert (outcome.filed, outcome.refused, outcome.unreachable) == (1, 1, None)
    assert len(outbox.sent_uids()) == 1 and outbox.waiting() == []
    assert [p.suffix for p in outbox.refused.iterdir()] == [".dcm"]
    assert "takes no Computed Radiography Image Storage" in messages[0]


def test_a_failure_status_is_not_retried_and_nothing_counts_as_sent(outbox):
    server, destination = pacs(0xA700)
    try:
        outcome = Sender(outbox, destination, "EDGEXRAY", lambda m: None).send_round()
    finally:
        server.shutdown()
    assert outcome.refused == 2 and outbox.sent_uids() == set()
    assert len(list(outbox.refused.iterdir())) == 2


def test_an_unreachable_pacs_leaves_everything_waiting(outbox):
    destination = Destination("NOBODY", "127.0.0.1", 9)
    outcome = Sender(outbox, destination, "EDGEXRAY", lambda m: None).send_round()
    assert outcome.unreachable is not None and len(outbox.waiting()) == 2
    assert outbox.sent_uids() == set()


def test_a_result_already_sent_is_not_queued_again(outbox, tmp_path):
    server, destination = pacs(0x0000)
    try:
        Sender(outbox, destination, "EDGEXRAY", lambda m: None).send_round()
    finally:
        server.shutdown()
    (uid,) = outbox.sent_uids()
    reopened = Outbox(outbox.folder)  # a restart reads the sent log
    with Classifier(default_model()) as classifier:
        source = read_input(SAMPLES / "NORMAL" / "NORMAL_00000.dcm", 1 << 27)
        made = DicomResults(classifier.identity, classifier.card, ResultSettings()).make(
            source, classifier.predict(source)
        )
    assert [r.sop_instance_uid for r in made] == [uid]  # made again: the same instance
    reopened.add(made)
    assert not (reopened.folder / f"{uid}.dcm").exists()  # not queued at all
    (reopened.folder / f"{uid}.dcm").write_bytes(made[0].data)  # left by a kill before unlink
    assert reopened.waiting() == [] and not Path(reopened.folder / f"{uid}.dcm").exists()
    reopened.close()
