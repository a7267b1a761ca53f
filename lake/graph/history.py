"""History: walking commits back from a head, and finding where two lines of history met.

Pure graph code: commits and their parents, nothing about Delta tables or contracts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from lake.graph.commits import Commit, CommitStore


def walk(
    commits: CommitStore,
    start: str,
    *,
    keep: Callable[[str, Commit], bool] = lambda _cid, _c: True,
    limit: int | None = None,
) -> list[tuple[str, Commit]]:
    """Commits reachable from ``start``, newest first, that ``keep`` accepts (at most ``limit``)."""
    seen: set[str] = set()
    frontier = [start]
    out: list[tuple[str, Commit]] = []
    while frontier and (limit is None or len(out) < limit):
        frontier.sort(key=lambda c: commits.get(c).time, reverse=True)
        cid = frontier.pop(0)
        if cid in seen:
            continue
        seen.add(cid)
        commit = commits.get(cid)
        frontier.extend(p for p in commit.parents if p not in seen)
        if keep(cid, commit):
            out.append((cid, commit))
    return out


def rule_changes(commits: CommitStore, head: str, base: str | None) -> tuple[tuple[str, Commit], ...]:
    """The commits reachable from ``head`` but newer than the fork point ``base`` that changed
    the branch's protection rules, newest first."""
    if base is None or base == head:
        return ()
    since = commits.get(base).time
    out: list[tuple[str, Commit]] = []
    seen = {base}
    frontier = [head]
    while frontier:
        cid = frontier.pop()
        if cid in seen:
            continue
        seen.add(cid)
        commit = commits.get(cid)
        if commit.time < since:
            continue
        if "lake.protection" in commit.metadata:
            out.append((cid, commit))
        frontier.extend(commit.parents)
    return tuple(sorted(out, key=lambda c: c[1].time, reverse=True))


def merge_base(commits: CommitStore, a: str, b: str) -> str | None:
    """The most recent common ancestor of commits ``a`` and ``b``.

    Walks back from both heads newest-first, painting each commit with the side(s) that reach
    it (git's paint-down-to-common), and stops once every commit left to visit is reached from
    both sides: the cost follows the history since the fork, not the repository's age. With
    several best candidates (criss-cross histories) the newest wins, ties broken by id, so the
    choice is deterministic."""
    if a == b:
        return a
    paint: dict[str, int] = {a: 1, b: 2}
    queue: list[tuple[str, str]] = []  # (negated-sortable time, id), newest first via heap

    def push(cid: str) -> None:
        heapq.heappush(queue, (_newest_first(commits.get(cid).time), cid))

    push(a)
    push(b)
    candidates: list[str] = []
    while queue and any(paint[c] != 3 for _, c in queue):
        _, cid = heapq.heappop(queue)
        flags = paint[cid]
        if flags == 3:
            if cid not in candidates:
                candidates.append(cid)
        for parent in commits.get(cid).parents:
            before = paint.get(parent, 0)
            after = before | flags
            if after != before:
                paint[parent] = after
                push(parent)
    while queue:  # commits reached from both sides but not yet visited are candidates too
        _, cid = heapq.heappop(queue)
        if cid not in candidates and paint[cid] == 3:
            candidates.append(cid)
    if not candidates:
        return None
    best = [c for c in candidates if not any(c != o and _reaches(commits, o, c) for o in candidates)]
    return max(best or candidates, key=lambda c: (commits.get(c).time, c))


def _newest_first(time: str) -> str:
    """A sort key that orders ISO timestamps newest first."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in time)


def _reaches(commits: CommitStore, start: str, target: str) -> bool:
    """Whether ``target`` is an ancestor of ``start`` (walks no further back than ``target``'s time)."""
    limit = commits.get(target).time
    seen: set[str] = set()
    todo = [start]
    while todo:
        c = todo.pop()
        if c == target:
            return True
        if c in seen or commits.get(c).time < limit:
            continue
        seen.add(c)
        todo.extend(commits.get(c).parents)
    return False
