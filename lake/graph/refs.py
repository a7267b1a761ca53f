"""Branch and tag refs: small JSON objects moved only by compare-and-swap.

``_lake/refs/heads/<branch>`` holds ``{"commit": <id>, "id": <branch-id>}``; the branch id is
fixed when the branch is created and names the branch's own Delta layers, so a branch deleted
and created again under the same name never shares a layer with its namesake.
``_lake/refs/tags/<tag>`` holds ``{"commit": <id>}`` and never moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from lake import kill
from lake.errors import ConcurrentUpdateError, RefExistsError, RefNotFoundError
from lake.storage import ObjectStore, PreconditionFailed

HEADS = "_lake/refs/heads/"
TAGS = "_lake/refs/tags/"
Kind = Literal["branch", "tag"]


@dataclass(frozen=True)
class Ref:
    name: str
    kind: Kind
    commit: str
    etag: str
    branch_id: str | None = None
    protected: bool = False
    require_contracts: bool = False

    def payload(self, commit: str) -> bytes:
        body: dict[str, Any] = {"commit": commit}
        if self.branch_id is not None:
            body["id"] = self.branch_id
        if self.protected:
            body["protected"] = True
        if self.require_contracts:
            body["require_contracts"] = True
        return json.dumps(body, sort_keys=True).encode()


class RefStore:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @staticmethod
    def _key(kind: Kind, name: str) -> str:
        return (HEADS if kind == "branch" else TAGS) + name

    def get(self, name: str, kind: Kind = "branch") -> Ref | None:
        blob = self._store.get(self._key(kind, name))
        if blob is None:
            return None
        body = json.loads(blob.data)
        return Ref(
            name=name,
            kind=kind,
            commit=body["commit"],
            etag=blob.etag,
            branch_id=body.get("id"),
            protected=bool(body.get("protected", False)),
            require_contracts=bool(body.get("require_contracts", False)),
        )

    def require(self, name: str, kind: Kind = "branch") -> Ref:
        ref = self.get(name, kind)
        if ref is None:
            raise RefNotFoundError(f"no {kind} named {name!r}", hint=f"'lake {kind} list' shows them")
        return ref

    def create(self, name: str, kind: Kind, commit: str, *, branch_id: str | None = None) -> Ref:
        ref = Ref(name=name, kind=kind, commit=commit, etag="", branch_id=branch_id)
        try:
            etag = self._store.put(self._key(kind, name), ref.payload(commit), if_none_match=True)
        except PreconditionFailed as exc:
            raise RefExistsError(
                f"a {kind} named {name!r} exists already",
                hint=f"choose another name, or see it with 'lake {kind} list'",
            ) from exc
        return Ref(name, kind, commit, etag, branch_id)

    def move(self, ref: Ref, commit: str, **settings: bool) -> Ref:
        """Point ``ref`` at ``commit`` if it still points where ``ref`` says; else raise.
        ``settings`` (protected, require_contracts) change the branch's rules in the same swap."""
        new = replace(ref, commit=commit)
        if "protected" in settings:
            new = replace(new, protected=settings["protected"])
        if "require_contracts" in settings:
            new = replace(new, require_contracts=settings["require_contracts"])
        kill.point("ref.swap.before")
        try:
            etag = self._store.put(self._key(ref.kind, ref.name), new.payload(commit), if_match=ref.etag)
        except PreconditionFailed as exc:
            raise ConcurrentUpdateError(
                f"branch {ref.name!r} moved while this operation ran",
                hint="the operation changed nothing; run it again",
            ) from exc
        kill.point("ref.swap")
        return replace(new, etag=etag)

    def delete(self, ref: Ref) -> None:
        try:
            self._store.delete(self._key(ref.kind, ref.name), if_match=ref.etag)
        except PreconditionFailed as exc:
            raise ConcurrentUpdateError(
                f"{ref.kind} {ref.name!r} moved while it was being deleted",
                hint="look at it again and repeat the delete",
            ) from exc

    def names(self, kind: Kind) -> Iterator[str]:
        prefix = HEADS if kind == "branch" else TAGS
        for key in self._store.list(prefix):
            yield key.removeprefix(prefix)
