"""Load test of `edgexray serve`: a real server process, async httpx clients, the bundled samples.

    python benchmarks/serve_load.py [--model MODEL] [--clients 8] [--requests 2000] [--workers 2]

Measures, in one run:
- in alternating rounds, the same work `classify` does per image in-process (Classifier.predict on
  the sample files: decode, preprocess, inference) and one client's request to the server for the
  same image: the difference of the medians is the server's overhead per request (HTTP, multipart,
  the queue; see benchmarks/serve_overhead.py for that figure alone);
- through the server, CLIENTS concurrent clients sending REQUESTS requests: failed requests,
  throughput, p50/p99 latency;
- the server's resident memory (VmRSS of the server process) after warm-up and after the run.
Prints a Markdown table with the load average (the CPU may be shared), and writes it to --markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from provenance import measured_on

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models/demo/seed_cnn.tflite-int8.tflite"
SAMPLES = sorted((ROOT / "models/samples/binary").glob("*/*"))
TOKEN = "benchmark-token"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def paired_rounds(
    classifier: Classifier, url: str, images: list[tuple[str, bytes]], rounds: int
) -> tuple[list[float], list[float]]:
    """(in-process ms, one-client server ms) per image, in alternating rounds over the samples so
    a busy spell on the shared machine hits both alike. In-process is what `classify` does per
    image: Classifier.predict on the file (decode, preprocess, inference)."""
    local: list[float] = []
    served: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for _ in range(rounds):
            for path in SAMPLES:
                started = time.perf_counter()
                classifier.predict(path)
                local.append((time.perf_counter() - started) * 1000)
            for name, data in images:
                started = time.perf_counter()
                response = http.post("/v1/classify", files={"file": (name, data)})
                response.raise_for_status()
                served.append((time.perf_counter() - started) * 1000)
    return local, served


async def load(
    url: str, images: list[tuple[str, bytes]], clients: int, total: int
) -> tuple[list[float], int, float]:
    """(latencies in ms of successful requests, failures, wall seconds)."""
    latencies: list[float] = []
    failures = 0
    counter = iter(range(total))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        for i in counter:
            name, data = images[i % len(images)]
            started = time.perf_counter()
            try:
                response = await http.post("/v1/classify", files={"file": (name, data)})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    return latencies, failures, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="engine threads, server and in-process"
    )
    parser.add_argument("--rounds", type=int, default=25, help="rounds of one-client requests")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    load_before = os.getloadavg()
    classifier = Classifier(args.model, ClassifierOptions(threads=args.threads))
    images = [(p.name, p.read_bytes()) for p in SAMPLES]

    port = free_port()
    env = dict(os.environ, EDGEXRAY_SERVE_TOKEN=TOKEN)
    server = subprocess.Popen(
        [sys.executable, "-m", "edgexray.cli.main", "serve", "-m", str(args.model),
         "--port", str(port), "--workers", str(args.workers), "--threads", str(args.threads),
         "--queue-size", str(4 * args.clients)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        warm, warm_failures, _ = asyncio.run(load(url, images, args.clients, 200))
        rss_warm = rss_mb(server.pid)
        local, sequential = paired_rounds(classifier, url, images, args.rounds)
        latencies, failures, wall = asyncio.run(load(url, images, args.clients, args.requests))
        rss_after = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    load_after = os.getloadavg()

    seq_p50 = statistics.median(sequential)
    inproc = statistics.median(local)
    rows = [
        ("model", args.model.name),
        ("server", f"--workers {args.workers} --threads {args.threads}"),
        ("in-process Classifier.predict per image (median)", f"{inproc:.2f} ms"),
        ("one client, same images in alternating rounds: latency p50", f"{seq_p50:.2f} ms"),
        (
            "one client: server overhead per request (p50 - in-process)",
            f"{seq_p50 - inproc:.2f} ms",
        ),
        (
            f"{args.clients} clients, {args.requests} requests: failed",
            f"{failures + warm_failures}",
        ),
        ("throughput", f"{len(latencies) / wall:.0f} requests/s"),
        (
            "latency p50 / p99",
            f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f} ms",
        ),
        (
            "server RSS after warm-up / after the run",
            f"{rss_warm:.1f} / {rss_after:.1f} MB ({100 * (rss_after / rss_warm - 1):+.1f}%)",
        ),
        ("load average before / after (1 min)", f"{load_before[0]:.2f} / {load_after[0]:.2f}"),
    ]
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    if args.markdown:
        write_text_atomically(
            args.markdown,
            "# `edgexray serve` under load\n\n"
            f"`python benchmarks/serve_load.py --markdown {args.markdown}` on the 8 bundled samples. "
            f"{measured_on()}\n\n" + table + "\n",
        )
    _ = warm
    classifier.close()


if __name__ == "__main__":
    main()
