"""`lake status` (issue 13, part 3), on both backends: the repository, its default branch, the
protected branches and their rules, datasets with contracts and row counts, branches ahead."""

from __future__ import annotations

import pyarrow as pa
from conftest import Lake

import lake
from lake.contracts import Contract


def test_status_shows_the_repository_at_a_glance(cli: Lake) -> None:
    repo = lake.Repository.open(cli.uri)
    main = repo.branch("main")
    main.set_contract("orders", Contract.from_text("dataset: orders\ncolumns:\n  id: {type: int64}\n"))
    main.write("orders", pa.table({"id": [1, 2, 3]}))
    main.write("events", pa.table({"id": [1], "day": ["d1"]}), partition_by=["day"])
    ahead = repo.create_branch("ahead")
    ahead.write("orders", pa.table({"id": [4]}))
    ahead.write("orders", pa.table({"id": [5]}))
    repo.create_branch("behind")
    main.write("orders", pa.table({"id": [6]}))
    repo.protect("main", protected=True, require_contracts=True)

    got = cli.json("status")
    assert isinstance(got, dict)
    assert got["default_branch"] == "main" and got["head"] == repo.resolve("main")
    datasets = {d["name"]: d for d in got["datasets"]}
    assert datasets["orders"]["rows"] == 4 and datasets["orders"]["contract"]
    assert datasets["events"]["contract"] is None and datasets["events"]["partition_by"] == ["day"]
    branches = {b["name"]: b for b in got["branches"]}
    assert branches["main"]["protected"] and branches["main"]["require_contracts"]
    assert (branches["ahead"]["ahead"], branches["ahead"]["behind"]) == (2, 2)  # a write and the rules
    assert (branches["behind"]["ahead"], branches["behind"]["behind"]) == (0, 2)

    text = cli("status")
    assert "default branch main" in text and "main (protected, requires contracts)" in text
    assert "orders" in text and "ahead" in text
