"""Contract versions stored in the lake, content-addressed: ``_lake/contracts/<hash>`` (YAML).
Commits name the contract in force for each dataset by its hash."""

from __future__ import annotations

from lake.contracts import Contract
from lake.errors import RefNotFoundError, StorageError
from lake.storage import ObjectStore, PreconditionFailed

CONTRACTS = "_lake/contracts/"


class ContractStore:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._cache: dict[str, Contract] = {}

    def put(self, contract: Contract) -> str:
        key = contract.hash
        if key not in self._cache:
            try:
                self._store.put(CONTRACTS + key, contract.to_yaml().encode(), if_none_match=True)
            except PreconditionFailed:
                pass  # content-addressed: that object is this very contract
            self._cache[key] = contract
        return key

    def get(self, key: str) -> Contract:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        blob = self._store.get(CONTRACTS + key)
        if blob is None:
            raise RefNotFoundError(f"no contract {key[:12]} in the repository")
        contract = Contract.from_text(blob.data.decode(), f"contract {key[:12]}")
        if contract.hash != key:
            raise StorageError(f"contract object {key[:12]} is corrupt: its content does not hash to its id")
        self._cache[key] = contract
        return contract
