#!/usr/bin/env bash
# The lakegate story on the embedded local default: no server, no configuration.
# Usage: bash demo/demo.sh [WORKDIR]   (default: ./lakegate-demo, recreated each run)
# With LAKE_REPO=s3://bucket/prefix the story runs on S3 (AWS_ENDPOINT_URL for MinIO, LocalStack,
# moto...), in a new repository below that prefix each run, so it runs again and again.
set -euo pipefail
work=${1:-lakegate-demo}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
case "${LAKE_REPO:-}" in
  s3://*) export LAKE_REPO="${LAKE_REPO%/}/demo-$(date -u +%Y%m%d-%H%M%S)-$$-$RANDOM" ;;
  *) export LAKE_REPO=.lake ;;
esac
echo "the demo's repository: $LAKE_REPO"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }

# Daily order files: day 1 (history), day 2 (a good load), day 3 (broken rows), day 4 (drifted
# prices), and two small appends from two teams. Deterministic, so the story is the same each run.
python - <<'PY'
import numpy as np, pyarrow as pa, pyarrow.csv as csv
def day(start, n, seed, scale=1.0, cur=("EUR", "USD", "GBP"), p=(0.4, 0.4, 0.2)):
    rng = np.random.default_rng(seed)
    return pa.table({
        "order_id": np.arange(start, start + n),
        "customer_id": rng.integers(100, 5000, n),
        "amount": np.round(rng.gamma(2.0, 40.0, n) * scale, 2),
        "currency": rng.choice(np.array(cur), n, p=list(p)),
    })
csv.write_csv(day(1, 2000, 1), "orders-day1.csv")
csv.write_csv(day(2001, 2000, 2), "orders-day2.csv")
bad = day(4001, 5, 3).to_pylist()
bad[1]["amount"], bad[2]["currency"], bad[3]["order_id"] = -12.5, "JPY", 42
csv.write_csv(pa.Table.from_pylist(bad), "orders-day3.csv")
csv.write_csv(day(6001, 2000, 4, scale=3.0), "orders-day4.csv")
csv.write_csv(day(9001, 500, 5), "orders-team-a.csv")
csv.write_csv(day(9501, 500, 6), "orders-team-b.csv")
PY
cat > orders.contract.yaml <<'YAML'
dataset: orders
description: One row per customer order
primary_key: [order_id]
schema_evolution: additive
columns:
  order_id:    {type: int64, nullable: false}
  customer_id: {type: int64, nullable: false}
  amount:      {type: float64, nullable: false, min: 0, max: 100000}
  currency:    {type: string, in: [EUR, USD, GBP]}
checks:
  - {name: some_rows, row_count: {min: 1}}
YAML

step "1. A repository, history, and a contract on main"
say lake init
say lake write orders orders-day1.csv -m "Load day 1"
say lake tag create day1
say lake contract set orders orders.contract.yaml
say lake branch protect main
echo "main is protected now: it changes only through merges that pass the gate."

step "2. A good daily load on a branch: the gate passes and the merge lands"
say lake branch create load-day2
say lake write orders orders-day2.csv --branch load-day2 -m "Load day 2"
say lake diff main load-day2
say lake gate load-day2 --into main
say lake merge load-day2 --into main

step "3. A load that breaks the contract: the write is refused and nothing is committed"
say lake branch create load-day3
say lake write orders orders-day3.csv --branch load-day3 || echo "(refused, as it should be: nothing was committed)"
say lake write orders orders-day3.csv --branch load-day3 --quarantine
say lake read orders__quarantine --ref load-day3

step "4. A load with drifted prices: the gate blocks the merge"
say lake branch create load-day4
say lake write orders orders-day4.csv --branch load-day4 -m "Load day 4"
say lake gate load-day4 --into main --format html --output gate-day4.html || true
echo "The HTML report, with side-by-side histograms: $(pwd)/gate-day4.html"
say lake merge load-day4 --into main || echo "(blocked, as it should be: main did not move)"

step "5. Two teams append to the same table on two branches; both merge cleanly"
say lake branch create team-a
say lake branch create team-b
say lake write orders orders-team-a.csv --branch team-a -m "Team A orders"
say lake write orders orders-team-b.csv --branch team-b -m "Team B orders"
say lake merge team-a --into main
say lake merge team-b --into main
say lake log --limit 6
say lake datasets
say lake read orders --ref day1 --limit 3 --format csv
echo
echo "main's copy of 'orders' is a plain Delta table at $LAKE_REPO/orders; any Delta reader opens it:"
say python -c "
import os, lake, polars as pl
repo = lake.Repository.open(os.environ['LAKE_REPO'])  # only for the storage options of S3
frame = pl.read_delta(repo.table_uri('orders'), storage_options=repo.config.polars_options())
print(frame.select(pl.len(), pl.col('amount').mean()))"
