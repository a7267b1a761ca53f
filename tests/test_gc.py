"""`lake gc` reclaims what nothing retained can reach, and only that (issue 9, point 3)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Crash, Lake, crash_between_delta_commit_and_ref
from deltalake import write_deltalake
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

import lake
from lake import CommitExpiredError
from lake.maintain import gc as gc_module
from lake.maintain.stored import list_stored

NOW = {"older_than": "0s", "grace": "0s"}  # everything not held by a ref is expired at once


def rows(ids: Sequence[int]) -> pa.Table:
    return pa.table({"id": pa.array(list(ids), pa.int64()), "v": pa.array([f"r{i}" for i in ids])})


def ids(repo: lake.Repository, ref: str, dataset: str = "orders") -> list[int]:
    return sorted(repo.read(dataset, ref).column("id").to_pylist())


def keys(repo: lake.Repository, prefix: str = "") -> set[str]:
    return {s.key for s in list_stored(repo.config, prefix)}


def objects(repo: lake.Repository, prefix: str) -> set[str]:
    """The objects below ``prefix``, without the local store's lock files."""
    return {k for k in keys(repo, prefix) if not k.rsplit("/", 1)[-1].startswith(".")}


def put_garbage(repo: lake.Repository, key: str) -> None:
    """A parquet file nothing names: what a writer that staged files and died leaves behind."""
    fs = repo.config.arrow_filesystem()
    with fs.open_output_stream(repo.config.arrow_path(repo.config.join(key))) as out:
        pq.write_table(rows([666]), out)


def history(repo: lake.Repository) -> dict[str, str]:
    """A repository with tags, live and deleted branches, merges, deletes and upserts. Returns
    labelled commit ids that no ref will hold at the end."""
    main = repo.branch("main")
    main.write("orders", rows([1, 2, 3]))
    repo.create_tag("v1")
    fix = repo.create_branch("fix")
    fix.delete("orders", "id = 1")
    etl = repo.create_branch("etl")
    etl.write("orders", rows([4, 5]))
    etl.delete("orders", "id = 5")  # etl's first file is now only in etl's old commits
    etl.write("orders", rows([6]))
    merged = repo.merge("etl", into="main").commit  # main's table names etl's files by path
    assert merged is not None
    main.delete("orders", "id = 4")  # rewrites a merged etl file into main's layer
    middle = repo.resolve("main")
    main.upsert("orders", rows([2, 7]), key=["id"])
    repo.delete_branch("etl")
    scratch = repo.create_branch("scratch")
    scratch.write("orders", rows([9]))
    scratch.write("other", rows([10]))  # a dataset only the deleted branch ever had
    repo.delete_branch("scratch")
    return {"merge": merged, "middle": middle}


REFS = ("main", "v1", "fix", "refs/heads/main")


def reads(repo: lake.Repository) -> dict[str, list[int]]:
    return {ref: ids(repo, ref) for ref in REFS}


# -- what it keeps and what it frees ----------------------------------------------------------------
def test_gc_keeps_every_ref_and_reclaims_deleted_branches(repo: lake.Repository) -> None:
    old = history(repo)
    before = reads(repo)
    assert before["main"] == [1, 2, 3, 6, 7] and before["v1"] == [1, 2, 3] and before["fix"] == [2, 3]
    stored = keys(repo)

    dry = repo.gc(**NOW, dry_run=True)
    assert keys(repo) == stored  # a dry run deletes nothing
    assert dry.total.files > 0 and dry.total.bytes > 0
    assert set(dry.removed) <= stored

    done = repo.gc(**NOW)
    assert done.removed == dry.removed and done.total == dry.total
    assert keys(repo) - keys(repo, "_lake/expired/") == stored - set(done.removed)
    assert len(objects(repo, "_lake/expired/")) == len(done.expired) > 0
    assert reads(repo) == before
    # the deleted branches' layers: scratch's two whole, and etl's log (main names etl's files)
    assert len(done.layers) == 3
    assert not [k for k in keys(repo) if k.startswith("other/")]
    for layer in done.layers:
        assert not [k for k in keys(repo, layer) if "_delta_log" in k]
    assert sum(1 for k in keys(repo, "orders/_branches/") if k.endswith(".parquet")) == 3  # fix's, etl's 2
    # a second gc finds nothing more
    again = repo.gc(**NOW)
    assert again.total.files == 0 and again.expired == ()
    assert reads(repo) == before
    # commit objects stay: the log still walks the whole history
    assert {old["merge"], old["middle"]} <= {c.id for c in repo.log("main")}
    assert repo.fsck().clean


def test_files_main_references_by_path_outlive_the_branch(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", rows([1]))
    b = repo.create_branch("b")
    b.write("orders", rows([2, 3]))
    b.delete("orders", "id = 3")  # b's first file: only b's old commit reaches it
    repo.merge("b", into="main")
    repo.delete_branch("b")
    main.write("orders", rows([4]))  # the merge (whose parent is b's head) is no head any more
    layer = next(k.split("/")[2] for k in keys(repo, "orders/_branches"))
    branch_files = {k for k in keys(repo, f"orders/_branches/{layer}") if k.endswith(".parquet")}
    assert len(branch_files) == 2

    result = repo.gc(**NOW)

    assert ids(repo, "main") == [1, 2, 4]
    left = keys(repo, f"orders/_branches/{layer}")
    assert len(left) == 1 and left <= branch_files  # the file main names; the log and the other go
    assert result.layers == (f"orders/_branches/{layer}",)
    assert repo.fsck().clean


def test_gc_keeps_what_a_retention_window_holds(repo: lake.Repository) -> None:
    old = history(repo)
    result = repo.gc(older_than="7d", grace="0s")
    assert result.expired == ()  # every commit is younger than a week
    assert result.total.files == 0  # deleted branches' layers stay while their commits are young
    assert ids(repo, old["middle"]) == [1, 2, 3, 6]  # a commit no ref holds, inside the window


def test_reading_an_expired_commit_is_a_clear_error(cli: Lake) -> None:
    repo = lake.Repository.open(cli.uri)
    old = history(repo)
    repo.gc(**NOW)
    for cid in old.values():
        with pytest.raises(CommitExpiredError) as caught:
            repo.read("orders", cid)
        assert cid[:12] in caught.value.message and "gc reclaimed its files" in caught.value.message
        assert caught.value.hint
        with pytest.raises(CommitExpiredError):
            repo.create_branch("back", cid)
        with pytest.raises(CommitExpiredError):
            repo.diff(cid, "main")
        with pytest.raises(CommitExpiredError):
            repo.revert(cid)
        with pytest.raises(CommitExpiredError):
            repo.create_tag("old", cid)
    out = cli("read", "orders", "--ref", old["middle"], code=2)
    assert "has expired" in out and "lake gc reclaimed" in out and "hint:" in out
    err = cli.json("read", "orders", "--ref", old["middle"][:10], code=2)
    assert isinstance(err, dict) and err["error"] == "CommitExpiredError"
    assert old["middle"] in [c["id"] for c in cli.json("log")]  # type: ignore[index, union-attr]


def test_failed_attempts_are_reclaimed_only_after_the_grace(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1, 2]))
    b = repo.create_branch("b")
    b.write("orders", rows([3]))
    [layer] = [x.layer.split("/")[1] for x in repo.fsck().layers if x.branch == "b"]
    put_garbage(repo, "orders/part-staged-by-a-dead-writer.parquet")
    put_garbage(repo, f"orders/_branches/{layer}/part-staged-too.parquet")
    garbage = {
        "orders/part-staged-by-a-dead-writer.parquet",
        f"orders/_branches/{layer}/part-staged-too.parquet",
    }

    young = repo.gc(older_than="0s")  # default grace: an hour
    assert not garbage & set(young.removed) and garbage <= keys(repo)
    found = repo.fsck(grace="0s")
    assert {o.path for o in found.orphans} == {k.removeprefix("orders/") for k in garbage}
    assert not found.clean

    old = repo.gc(**NOW)
    assert garbage <= set(old.removed) and not garbage & keys(repo)
    assert ids(repo, "main") == [1, 2] and ids(repo, "b") == [1, 2, 3]
    assert repo.fsck(grace="0s").clean


def test_versions_past_the_named_one_keep_their_files(repo: lake.Repository) -> None:
    """A lake writer that died between its Delta commit and its ref, and another engine's append:
    no lake commit names their versions yet, and gc must not take their files."""
    main = repo.branch("main")
    main.write("orders", rows([1]))
    crash_between_delta_commit_and_ref(lambda: main.write("orders", rows([2])))
    write_deltalake(
        repo.table_uri("orders"), rows([100]), mode="append", storage_options=repo.config.delta_options()
    )
    parquet = {k for k in keys(repo, "orders") if k.endswith(".parquet")}
    assert len(parquet) == 3

    result = repo.gc(**NOW)

    assert not {k for k in result.removed if k.endswith(".parquet")}
    assert {k for k in keys(repo, "orders") if k.endswith(".parquet")} == parquet
    found = repo.fsck()
    assert [(u.version, u.kind) for u in found.unnamed] == [(1, "orphaned"), (2, "foreign")]


def test_contracts_and_profiles_only_expired_commits_name_are_reclaimed(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", rows([1, 2]))
    main.set_contract("orders", lake.Contract.from_text(_CONTRACT.format(max=100), "v1.yaml"))
    main.set_contract("orders", lake.Contract.from_text(_CONTRACT.format(max=1000), "v2.yaml"))
    repo.protect("main", protected=True)  # profiles main's datasets
    for name, new in (("b", 3), ("c", 4)):
        repo.create_branch(name).write("orders", rows([new]))
        repo.merge(name)  # a new profile of main each time
        repo.delete_branch(name)
    assert len(objects(repo, "_lake/contracts/")) == 2 and len(objects(repo, "_lake/profiles/")) == 3

    result = repo.gc(**NOW)

    # the first contract, and the profile of main before the merges (kept: the head's, and its
    # parent's, which a revert of the head compares with)
    assert len([k for k in result.removed if k.startswith("_lake/") and "/." not in k]) == 2
    assert len(objects(repo, "_lake/contracts/")) == 1 and len(objects(repo, "_lake/profiles/")) == 2
    assert repo.contract("orders") == lake.Contract.from_text(_CONTRACT.format(max=1000), "v2.yaml")
    repo.create_branch("d").write("orders", rows([5]))
    assert repo.gate("d").verdict == "pass"  # reads main's kept profile
    assert repo.fsck().clean


_CONTRACT = """
dataset: orders
columns:
  id: {{type: int64, nullable: false, max: {max}}}
  v: {{type: string}}
"""


# -- stopped at any moment --------------------------------------------------------------------------
def _stop_after(n: int) -> Callable[..., None]:
    real = gc_module.delete_keys
    done = [0]

    def delete_keys(config, keys):  # type: ignore[no-untyped-def]
        for key in keys:
            if done[0] >= n:
                raise Crash
            real(config, [key])
            done[0] += 1

    return delete_keys


def test_a_gc_stopped_at_any_moment_leaves_every_ref_readable(repo_uri: str, tmp_path: Path) -> None:
    def build(uri: str) -> tuple[lake.Repository, dict[str, list[int]]]:
        r = lake.Repository.init(uri)
        history(r)
        return r, reads(r)

    local = not repo_uri.startswith("s3://")
    seed, before = build(repo_uri)
    total = len(seed.gc(**NOW, dry_run=True).removed)
    stops = range(total) if local else [0, total // 2, total - 1]
    for n in stops:
        if local:
            uri = str(tmp_path / f"copy{n}")
            shutil.copytree(repo_uri, uri)
            repo = lake.Repository.open(uri)
        else:
            repo, _ = build(f"{repo_uri}-{n}")
        with pytest.MonkeyPatch.context() as patch, pytest.raises(Crash):
            patch.setattr(gc_module, "delete_keys", _stop_after(n))
            repo.gc(**NOW)
        assert reads(repo) == before, f"stopped after {n} deletions"
        assert not repo.fsck().problems
        finish = repo.gc(**NOW)
        assert len(finish.removed) == total - n
        assert reads(repo) == before
        assert repo.fsck().clean


# -- the command ------------------------------------------------------------------------------------
def test_lake_gc_reports_would_free_and_freed(cli: Lake, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n2\n")
    cli("write", "orders", str(csv))
    cli("branch", "create", "b")
    cli("write", "orders", str(csv), "--branch", "b")
    cli("branch", "delete", "b")
    dry = cli.json("gc", "--older-than", "0s", "--grace", "0s", "--dry-run")
    assert isinstance(dry, dict) and dry["dry_run"] is True
    assert dry["would_free"]["files"] == 2 and dry["would_free"]["bytes"] > 0
    out = cli("gc", "--older-than", "0s", "--grace", "0s")
    assert "freed 2 files" in out and "layers of deleted branches (1)" in out
    again = cli.json("gc", "--older-than", "0s", "--grace", "0s")
    assert again["freed"] == {"files": 0, "bytes": 0}  # type: ignore[index, call-overload]
    out = cli("gc", "--older-than", "a week", code=2)
    assert "is not a duration" in out


def test_durations() -> None:
    from datetime import timedelta

    parse = gc_module.parse_duration
    assert parse("7d") == timedelta(days=7) and parse("12h") == timedelta(hours=12)
    assert parse("30m") == timedelta(minutes=30) and parse("2w") == timedelta(weeks=2)
    assert parse("90") == timedelta(seconds=90) and parse(timedelta(1)) == timedelta(1)
    for bad in ("", "7 days", "-1d", "d"):
        with pytest.raises(lake.InvalidInputError):
            parse(bad)


# -- the property: after any history and any gc, every retained ref reads what it read -------------
Rows = list[tuple[int, str]]
KEYS = st.lists(st.integers(0, 20), min_size=1, max_size=4, unique=True)
REFUSALS = (
    lake.MergeConflictError,
    lake.GateFailedError,
    lake.RevertConflictError,
    lake.RefusedError,
    lake.InvalidInputError,
)


def keyed(values: Sequence[int], tag: str = "") -> pa.Table:
    return pa.table({"k": pa.array(list(values), pa.int64()), "v": pa.array([f"{tag}{x}" for x in values])})


class GcMachine(RuleBasedStateMachine):
    """Random branches, writes, deletes, upserts, merges, reverts, branch deletions, tags and
    gcs (whole, or stopped after a few deletions); after each gc every branch and tag reads the
    rows it read before, and each commit read before reads the same rows or is expired."""

    def new_uri(self) -> str:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.repo = lake.Repository.init(self.new_uri())
        self.repo.branch("main").write("t", keyed([1, 2, 3]))
        self.branches = ["main"]
        self.tags: list[str] = []
        self.n = 0

    def rows(self, ref: str) -> Rows:
        t = self.repo.read("t", ref)
        return sorted(zip(t.column("k").to_pylist(), t.column("v").to_pylist(), strict=True))

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    @rule(data=st.data())
    def branch(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(self.branches + self.tags))
        self.branches.append(self.name("b"))
        self.repo.create_branch(self.branches[-1], source)

    @rule(data=st.data(), values=KEYS)
    def write(self, data: st.DataObject, values: list[int]) -> None:
        self.repo.branch(data.draw(st.sampled_from(self.branches))).write("t", keyed(values, "w"))

    @rule(data=st.data(), cut=st.integers(0, 20))
    def delete(self, data: st.DataObject, cut: int) -> None:
        self.repo.branch(data.draw(st.sampled_from(self.branches))).delete(
            "t", f"k % 3 = {cut % 3} AND k > {cut}"
        )

    @rule(data=st.data(), values=KEYS)
    def upsert(self, data: st.DataObject, values: list[int]) -> None:
        branch = self.repo.branch(data.draw(st.sampled_from(self.branches)))
        branch.upsert("t", keyed(values, f"u{self.name('')}-"), key=["k"])

    @rule(data=st.data(), strategy=st.sampled_from(["fail", "source-wins"]))
    def merge(self, data: st.DataObject, strategy: str) -> None:
        into = data.draw(st.sampled_from(self.branches))
        sources = [x for x in self.branches + self.tags if x != into]
        if sources:
            try:
                self.repo.merge(data.draw(st.sampled_from(sources)), into=into, strategy=strategy)  # type: ignore[arg-type]
            except REFUSALS:
                pass

    @rule(data=st.data())
    def revert(self, data: st.DataObject) -> None:
        branch = data.draw(st.sampled_from(self.branches))
        commit = data.draw(st.sampled_from(self.repo.log(branch, limit=4)))
        try:
            self.repo.revert(commit.id, branch=branch, parent=1 if len(commit.commit.parents) > 1 else None)
        except (*REFUSALS, CommitExpiredError):
            pass

    @rule(data=st.data())
    def delete_branch(self, data: st.DataObject) -> None:
        if len(self.branches) > 1:
            name = data.draw(st.sampled_from(self.branches[1:]))
            self.repo.delete_branch(name)
            self.branches.remove(name)

    @rule(data=st.data())
    def tag(self, data: st.DataObject) -> None:
        self.tags.append(self.name("t"))
        self.repo.create_tag(self.tags[-1], data.draw(st.sampled_from(self.branches)))

    @rule(stop=st.none() | st.integers(0, 4))
    def gc(self, stop: int | None) -> None:
        refs = [f"refs/heads/{b}" for b in self.branches] + [f"refs/tags/{t}" for t in self.tags]
        before = {ref: self.rows(ref) for ref in refs}
        commits = {c.id for b in self.branches for c in self.repo.log(b, limit=3)}
        earlier: dict[str, Rows] = {}
        for cid in commits:
            try:
                earlier[cid] = self.rows(cid)
            except (CommitExpiredError, lake.DatasetNotFoundError):  # expired, or before "t"
                pass
        if stop is None:
            self.repo.gc(**NOW)
        else:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(gc_module, "delete_keys", _stop_after(stop))
                try:
                    self.repo.gc(**NOW)
                except Crash:
                    pass
        assert {ref: self.rows(ref) for ref in refs} == before
        for cid, rows_then in earlier.items():
            try:
                assert self.rows(cid) == rows_then
            except CommitExpiredError:
                pass


def _machine(make_uri: Callable[[], str]) -> type[GcMachine]:
    class Machine(GcMachine):
        def new_uri(self) -> str:
            return make_uri()

    return Machine


def test_every_retained_ref_reads_the_same_rows_after_any_gc(tmp_path: Path) -> None:
    run_state_machine_as_test(
        _machine(lambda: str(tmp_path / uuid.uuid4().hex)),
        settings=settings(max_examples=30, stateful_step_count=20, deadline=None),
    )


def test_every_retained_ref_reads_the_same_rows_after_any_gc_on_s3(bucket: str) -> None:
    run_state_machine_as_test(
        _machine(lambda: f"s3://{bucket}/{uuid.uuid4().hex}"),
        settings=settings(max_examples=3, stateful_step_count=10, deadline=None),
    )
