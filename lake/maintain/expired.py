"""Commits that ``lake gc`` expired: their files may be gone, so their data is never read again.

gc keeps every commit object (they are small, and ``lake log`` walks through them), but the files
of a commit it does not retain may be reclaimed. Before it deletes anything, gc writes a marker
``_lake/expired/<commit-id>`` for each commit it expires (with when, and the retention horizon),
so that naming such a commit afterwards (``lake read --ref <id>``, ``diff``, ``revert``, ``branch
create --from``) is a :class:`~lake.errors.CommitExpiredError`, never a missing file or wrong
rows, even if that gc was stopped half-way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lake.errors import CommitExpiredError
from lake.storage import ObjectStore

EXPIRED = "_lake/expired/"


@dataclass(frozen=True)
class Expiry:
    commit: str
    reclaimed: str  # when the gc that expired it ran (ISO 8601, UTC)
    horizon: str  # that gc's retention horizon


def mark(store: ObjectStore, expiry: Expiry) -> None:
    """Record that ``expiry.commit`` expired (gc marks only commits not marked yet; two gcs that
    race write the same facts, so a plain put will do)."""
    body = {"commit": expiry.commit, "reclaimed": expiry.reclaimed, "horizon": expiry.horizon}
    store.put(EXPIRED + expiry.commit, json.dumps(body, sort_keys=True).encode())


def get(store: ObjectStore, commit: str) -> Expiry | None:
    blob = store.get(EXPIRED + commit)
    if blob is None:
        return None
    try:
        raw = json.loads(blob.data)
        return Expiry(commit, str(raw.get("reclaimed", "")), str(raw.get("horizon", "")))
    except ValueError:
        return Expiry(commit, "", "")


def refuse_expired(store: ObjectStore, commit: str) -> None:
    """Raise :class:`CommitExpiredError` if gc expired ``commit``."""
    found = get(store, commit)
    if found is not None:
        raise CommitExpiredError(commit, reclaimed=found.reclaimed, horizon=found.horizon)
