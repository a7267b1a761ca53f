"""Shared helpers for the benchmarks: data, timing, a moto server, and the ratio table."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa


def table(rows: int, seed: int = 0, offset: int = 0) -> pa.Table:
    """rows x 5 columns: an id, a customer, an amount, a currency and a timestamp."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "order_id": pa.array(np.arange(offset, offset + rows, dtype=np.int64)),
            "customer_id": pa.array(rng.integers(0, 100_000, rows, dtype=np.int64)),
            "amount": pa.array(rng.gamma(2.0, 50.0, rows)),
            "currency": pa.array(rng.choice(np.array(["EUR", "USD", "GBP"]), rows)).cast(pa.string()),
            "created_at": pa.array(
                (np.int64(1_790_000_000_000_000) + rng.integers(0, 86_400_000_000, rows)).astype(
                    "datetime64[us]"
                )
            ).cast(pa.timestamp("us", tz="UTC")),
        }
    )


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(title: str, rows: list[tuple[str, float, float, float]]) -> None:
    """rows: (what, ours seconds, reference seconds, target ratio)."""
    print(f"\n{title}")
    print(f"{'measure':<58} {'ours':>10} {'reference':>10} {'ratio':>7} {'target':>7}")
    for what, ours, ref, target in rows:
        ratio = ours / ref if ref else float("inf")
        verdict = "ok" if ratio <= target else "OVER"
        print(
            f"{what:<58} {ours * 1000:>8.1f}ms {ref * 1000:>8.1f}ms "
            f"{ratio:>7.2f} {'<=' + str(target):>7} {verdict}"
        )


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
    }
    os.environ.update(env)
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def new_bucket(env: dict[str, str]) -> str:
    import boto3

    name = f"bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(
        Bucket=name
    )
    return name


def tempdir() -> str:
    return tempfile.mkdtemp(prefix="lakegate-bench-")
