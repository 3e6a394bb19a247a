"""A real PACS (Orthanc, from Debian) and a real `edgexray dicom-node` for the node's tests, each
started in a temporary folder on free ports, and the modality (dcmtk's storescu/echoscu)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from system_commands import require_command

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "models" / "samples" / "dicom"
NODE_AE = "EDGEXRAY"
MODALITY_AE = "MODALITY1"
PACS_AE = "ORTHANC"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Orthanc:
    """Orthanc with its own configuration, storage and index in `folder`, on free ports; knows
    the node as a modality. stop() and start() again keep the stored objects (same folder)."""

    def __init__(self, folder: Path, node_port: int) -> None:
        self.binary = require_command("Orthanc", "orthanc")
        self.folder = folder
        self.dicom_port = free_port()
        self.http_port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "edgexray-test",
            "DicomAet": PACS_AE,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "index"),
            "DicomModalities": {"edgexray": [NODE_AE, "127.0.0.1", node_port]},
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [],
        }
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps(config, indent=1), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def destination(self) -> str:
        return f"{PACS_AE}@127.0.0.1:{self.dicom_port}"

    def start(self) -> Orthanc:
        log = (self.folder / "orthanc.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, str(self.config)], stdout=log, stderr=log, cwd=self.folder
        )
        wait_for(self._up, 30, "Orthanc's REST API")
        return self

    def _up(self) -> bool:
        try:
            self.get("/system")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as r:
            data = r.read()
        return json.loads(data) if r.headers.get_content_type() == "application/json" else data

    def instances_by_study(self) -> dict[str, list[dict[str, Any]]]:
        """StudyInstanceUID -> the instances in it (each with its tags, simplified)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for instance in self.get("/instances"):
            tags = self.get(f"/instances/{instance}/simplified-tags")
            found.setdefault(tags["StudyInstanceUID"], []).append({"id": instance, **tags})
        return found

    def reports(self) -> list[dict[str, Any]]:
        return [
            i
            for study in self.instances_by_study().values()
            for i in study
            if i["Modality"] == "SR"
        ]

    def file(self, instance: str) -> bytes:
        return bytes(self.get(f"/instances/{instance}/file"))


class Node:
    """`edgexray dicom-node` as a child process (the environment's PYTHONPATH: this checkout),
    its stderr collected; `port` once it listens."""

    def __init__(self, state: Path, pacs: str, *args: str, port: int = 0) -> None:
        self.state = state
        self.args = [
            sys.executable, "-m", "edgexray.cli.main", "dicom-node",
            "--ae-title", NODE_AE, "--bind", "127.0.0.1", "--port", str(port),
            "--pacs", pacs, "--state", str(state), "--retry", "0.3", "--retry-max", "1",
            *args,
        ]  # fmt: skip
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.port = port

    def start(self) -> Node:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.process = subprocess.Popen(
            self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        threading.Thread(target=self._read, daemon=True).start()
        match = wait_for(self._listening, 60, "the node to listen")
        self.port = int(match.group(1))
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def _listening(self) -> re.Match[str] | None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError("the node exited:\n" + "".join(self.lines))
        for line in self.lines:
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                return match
        return None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def decisions(self) -> list[dict[str, Any]]:
        path = self.state / "decisions.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def sent(self) -> list[str]:
        path = self.state / "outbox" / "sent.jsonl"
        if not path.exists():
            return []
        return [
            json.loads(line)["sop_instance_uid"] for line in path.read_text().splitlines() if line
        ]


def storescu(
    port: int, files: list[Path], calling: str = MODALITY_AE, called: str = NODE_AE
) -> subprocess.CompletedProcess[str]:
    """Send `files` as a modality does (dcmtk; RLE proposed for the RLE samples)."""
    binary = require_command("storescu", "dcmtk")
    return subprocess.run(
        [binary, "-xr", "-aet", calling, "-aec", called, "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def echoscu(port: int, calling: str = MODALITY_AE) -> subprocess.CompletedProcess[str]:
    binary = require_command("echoscu", "dcmtk")
    return subprocess.run(
        [binary, "-aet", calling, "-aec", NODE_AE, "127.0.0.1", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*/*.dcm"))


def copies(folder: Path, count: int) -> list[Path]:
    """`count` distinct objects (new SOP Instance UIDs) made from the samples, in `folder`."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    sources = sample_files()
    made = []
    for index in range(count):
        ds = pydicom.dcmread(sources[index % len(sources)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = folder / f"copy{index:03d}.dcm"
        ds.save_as(path)
        made.append(path)
    return made
