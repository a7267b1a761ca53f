"""branch.write of 5M rows x 5 columns against a plain deltalake.write_deltalake of the same table,
side by side in one run, on local disk and on moto S3. Target: ratio <= 1.15."""

from __future__ import annotations

import argparse
import uuid

from _common import median_seconds, moto_server, new_bucket, report, table, tempdir
from deltalake import write_deltalake

import lake


def measure(root: str, data, repeat: int, storage: dict[str, str] | None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    repo = lake.Repository.init(f"{root}/lake")
    main = repo.branch("main")
    plain = median_seconds(
        lambda: write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data, storage_options=storage), repeat
    )
    ours = median_seconds(lambda: main.write(f"d{uuid.uuid4().hex[:8]}", data), repeat)
    plain2 = median_seconds(
        lambda: write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data, storage_options=storage), repeat
    )
    return ours, min(plain, plain2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = table(args.rows)
    rows = []
    ours, ref = measure(tempdir(), data, args.repeat, None)
    rows.append((f"local: branch.write vs write_deltalake, {args.rows:,} rows", ours, ref, 1.15))
    with moto_server() as env:
        storage = dict(env) | {"AWS_ALLOW_HTTP": "true"}
        ours, ref = measure(f"s3://{new_bucket(env)}", data, max(1, args.repeat - 1), storage)
        rows.append((f"moto S3: branch.write vs write_deltalake, {args.rows:,} rows", ours, ref, 1.15))
    report(f"Write overhead ({data.nbytes / 1e6:.0f} MB in Arrow)", rows)


if __name__ == "__main__":
    main()
