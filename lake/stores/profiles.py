"""Profiles of protected branches' datasets, kept per snapshot under
``_lake/profiles/<dataset>/<snapshot hash>.json``. The gate reads them instead of rescanning
the target. A commit that only adds rows extends the previous profile with the added rows; one
that removes rows rebuilds it from the snapshot."""

from __future__ import annotations

import hashlib
import json

from lake import kill
from lake.graph.commits import Snapshot
from lake.storage import ObjectStore
from lake.table.diff import file_changes
from lake.table.frames import arrow_schema
from lake.table.layers import Layers
from lake.table.views import View, read_files
from lake.validation.profile import Profile

PROFILES = "_lake/profiles/"


def snapshot_key(dataset: str, snapshot: Snapshot) -> str:
    digest = hashlib.sha256(json.dumps(snapshot.to_json(), sort_keys=True).encode()).hexdigest()
    return f"{PROFILES}{dataset}/{digest}.json"


class ProfileStore:
    def __init__(self, store: ObjectStore, layers: Layers) -> None:
        self._store = store
        self._layers = layers

    def get(self, dataset: str, snapshot: Snapshot) -> Profile | None:
        blob = self._store.get(snapshot_key(dataset, snapshot))
        return Profile.from_json(json.loads(blob.data)) if blob is not None else None

    def put(self, dataset: str, snapshot: Snapshot, profile: Profile) -> None:
        self._store.put(snapshot_key(dataset, snapshot), json.dumps(profile.to_json()).encode())
        kill.point("profile.stored")

    def build(self, dataset: str, snapshot: Snapshot) -> Profile:
        schema = arrow_schema(snapshot.schema)
        profile = Profile.empty(schema)
        view = View(self._layers, dataset, snapshot)
        for ref in view.files.values():  # file by file: memory bounded by the largest file
            profile.update(read_files(self._layers, dataset, [ref], schema))
        self.put(dataset, snapshot, profile)
        return profile

    def advance(self, dataset: str, before: Snapshot | None, after: Snapshot) -> Profile:
        """The profile of ``after``, from ``before``'s when ``after`` only added rows to it."""
        old = self.get(dataset, before) if before is not None else None
        if old is None or before is None or before.schema != after.schema:
            return self.build(dataset, after)
        added, removed = file_changes(self._layers, dataset, before, after)
        if removed:
            return self.build(dataset, after)
        schema = arrow_schema(after.schema)
        for ref in added.values():
            old.update(read_files(self._layers, dataset, [ref], schema))
        self.put(dataset, after, old)
        return old
