"""What `edgexray serve` adds to one request, over the same classification in-process.

    python benchmarks/serve_overhead.py [--model MODEL] [--rounds 15] [--markdown FILE]

A real server process (--workers 1 --threads 1) on a free port and one client (httpx, one kept-alive
connection). In interleaved rounds (benchmarks/rounds.py: every row once per round, so a busy
spell on the shared machine hits every row alike), each row times one call per bundled sample:

- `predict(path)`: Classifier.predict on the sample file, what `classify` does per image (read,
  hash, decode, preprocess, checks, inference);
- `predict(bytes)`: Classifier.predict on the bytes already in memory (input_from_bytes), what the
  server does once it has the upload;
- `POST /v1/classify`: one client's request for the same sample, answer read.

A row's figure is the median over rounds of its per-round median. The overhead is the request's
p50 minus each in-process p50. The issue 25 goal: at most 2 ms over `predict(path)`.

On a shared, loaded machine wall times of tens of ms swing by more than the overhead itself, so
the CPU time is measured too, which another process's load does not stretch: per call, the
server process's (every thread's run time, /proc/PID/task/*/schedstat, ns) for a request, this
process's (time.process_time) for a predict; median over rounds of the per-round mean.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.preprocessing.input_file import input_from_bytes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms
from serve_load import DEFAULT_MODEL, ROOT, SAMPLES, TOKEN, free_port

# A row's measure (wall median in ms of one round) and the CPU ms per call of each round.
Rounds = tuple[Callable[[], float], list[float]]


def start_server(model: Path, port: int) -> subprocess.Popen[bytes]:
    """`edgexray serve` on `port`, ready (its /readyz answered 200)."""
    env = dict(os.environ, EDGEXRAY_SERVE_TOKEN=TOKEN)
    server = subprocess.Popen(
        [sys.executable, "-m", "edgexray.cli.main", "serve", "-m", str(model),
         "--port", str(port), "--workers", "1", "--threads", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not become ready in 120 s")


def cpu_seconds(pid: int) -> float:
    """CPU time run so far by every live thread of process `pid` (ns resolution)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def timed(function: Callable[[int], object], calls: int, cpu: Callable[[], float]) -> Rounds:
    """A row's measure: one call per sample, wall median (ms) returned, CPU ms per call kept."""
    cpu_ms: list[float] = []

    def measure() -> float:
        before = cpu()
        wall = median_ms(function, calls)
        cpu_ms.append((cpu() - before) * 1000 / calls)
        return wall

    return measure, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    load_before = os.getloadavg()
    classifier = Classifier(args.model, ClassifierOptions(threads=1))
    images = [(path, path.read_bytes()) for path in SAMPLES]
    port = free_port()
    server = start_server(args.model, port)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:

            def post(i: int) -> None:
                path, data = images[i % len(images)]
                http.post("/v1/classify", files={"file": (path.name, data)}).raise_for_status()

            calls = len(images)
            own_cpu = time.process_time
            measures = {
                "predict(path)": timed(
                    lambda i: classifier.predict(images[i % calls][0]), calls, own_cpu
                ),
                "predict(bytes)": timed(
                    lambda i: classifier.predict(
                        input_from_bytes(images[i % calls][1], images[i % calls][0].name)
                    ),
                    calls,
                    own_cpu,
                ),
                "POST /v1/classify": timed(post, calls, lambda: cpu_seconds(server.pid)),
            }
            figures = interleaved({row: m[0] for row, m in measures.items()}, args.rounds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        classifier.close()
    load_after = os.getloadavg()

    cpu = {row: statistics.median(m[1][1:]) for row, m in measures.items()}  # warm-up dropped
    served, served_cpu = figures["POST /v1/classify"], cpu["POST /v1/classify"]
    lines = [f"| {row} | {figures[row]:.2f} ms | {cpu[row]:.2f} ms |" for row in figures]
    lines += [
        f"| overhead over predict(path) | **{served - figures['predict(path)']:.2f} ms** | "
        f"**{served_cpu - cpu['predict(path)']:.2f} ms** |",
        f"| overhead over predict(bytes) | {served - figures['predict(bytes)']:.2f} ms | "
        f"{served_cpu - cpu['predict(bytes)']:.2f} ms |",
        f"| load average before / after (1 min) | {load_before[0]:.2f} / {load_after[0]:.2f} | |",
    ]
    table = "| one client | wall p50 | CPU per call |\n|---|---|---|\n" + "\n".join(lines)
    print(table)
    if args.markdown:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_text_atomically(
            args.markdown,
            f"# `edgexray serve`: overhead per request\n\n`python benchmarks/serve_overhead.py "
            f"--rounds {args.rounds}` on the {calls} bundled samples, {args.model.name}, "
            f"{stamp}.\n\n{table}\n",
        )


if __name__ == "__main__":
    main()
