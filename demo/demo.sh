#!/usr/bin/env bash
# The lakegate story on the embedded local default: no server, no configuration.
# Usage: bash demo/demo.sh [WORKDIR]   (default: ./lakegate-demo, recreated each run)
set -euo pipefail
work=${1:-lakegate-demo}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

cat > orders-day1.csv <<'CSV'
order_id,customer_id,amount,currency
1,100,25.50,EUR
2,101,310.00,USD
3,100,12.00,EUR
4,102,-5.00,GBP
CSV
cat > orders-day2.csv <<'CSV'
order_id,customer_id,amount,currency
5,103,99.90,EUR
6,101,-20.00,USD
7,104,45.00,GBP
CSV

say lake init
say lake write orders orders-day1.csv -m "Load day 1"
say lake tag create day1
say lake branch create cleanup
say lake write orders orders-day2.csv --branch cleanup -m "Load day 2"
say lake delete orders --where "amount < 0" --branch cleanup -m "Drop refunds"
say lake diff main cleanup
say lake log --ref cleanup
say lake read orders --ref cleanup
say lake read orders --ref day1 --format csv
say lake datasets
echo
echo "main's copy of 'orders' is a plain Delta table at $(pwd)/.lake/orders; any Delta reader opens it:"
say python -c "import polars as pl; print(pl.read_delta('.lake/orders').sort('order_id'))"

echo
echo "Contracts: every write is checked. A contract for 'orders' on the cleanup branch:"
cat > orders.contract.yaml <<'YAML'
dataset: orders
primary_key: [order_id]
columns:
  order_id:    {type: int64, nullable: false}
  customer_id: {type: int64, nullable: false}
  amount:      {type: float64, nullable: false, min: 0}
  currency:    {type: string, in: [EUR, USD, GBP]}
checks:
  - {name: some_rows, row_count: {min: 1}}
YAML
cat > orders-day3.csv <<'CSV'
order_id,customer_id,amount,currency
8,105,30.00,EUR
9,106,-1.00,JPY
5,107,10.00,USD
CSV
say lake contract set orders orders.contract.yaml --branch cleanup
echo
echo "Day 3 has a negative amount, an unknown currency and a repeated order id; it is refused:"
say lake write orders orders-day3.csv --branch cleanup || echo "(refused as expected: nothing was committed)"
say lake write orders orders-day3.csv --branch cleanup --quarantine
say lake read orders__quarantine --ref cleanup
