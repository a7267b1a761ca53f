"""Which branch a ``<dataset>/_branches/<branch-id>`` layer belongs (or belonged) to.

A branch's id is drawn when the branch is created and names its layers in every dataset. The ref
holds the id only while the branch lives, so creating a branch also writes
``_lake/layers/<branch-id>.json`` (once, ``If-None-Match``): the branch's name, the commit it was
created from and when. ``lake fsck`` reads it to name the owner of a layer whose branch is gone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lake.graph.commits import now_utc
from lake.storage import ObjectStore, PreconditionFailed

OWNERS = "_lake/layers/"


@dataclass(frozen=True)
class LayerOwner:
    """The branch a layer id was drawn for."""

    branch_id: str
    branch: str
    created_from: str  # the commit the branch was created at
    created: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.branch_id,
            "branch": self.branch,
            "created_from": self.created_from,
            "created": self.created,
        }


def key(branch_id: str) -> str:
    return f"{OWNERS}{branch_id}.json"


def record(store: ObjectStore, branch_id: str, branch: str, commit: str) -> LayerOwner:
    """Write the owner of ``branch_id`` (once: an id is never drawn twice)."""
    owner = LayerOwner(branch_id, branch, commit, now_utc())
    try:
        store.put(key(branch_id), json.dumps(owner.to_dict(), sort_keys=True).encode(), if_none_match=True)
    except PreconditionFailed:
        pass  # written already (a retried create): the first record stands
    return owner


def read(store: ObjectStore, branch_id: str) -> LayerOwner | None:
    """The recorded owner of ``branch_id``; None when there is no record (a branch created before
    the records were kept) or it does not parse."""
    blob = store.get(key(branch_id))
    if blob is None:
        return None
    try:
        raw = json.loads(blob.data)
        return LayerOwner(str(raw["id"]), str(raw["branch"]), str(raw["created_from"]), str(raw["created"]))
    except (ValueError, KeyError, TypeError):
        return None
