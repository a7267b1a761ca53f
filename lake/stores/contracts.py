"""Contract versions stored in the lake, content-addressed: ``_lake/contracts/<hash>`` (YAML).
Commits name the contract in force for each dataset by its hash (of its canonical form)."""

from __future__ import annotations

from lake.contracts import Contract
from lake.graph.objects import ContentStore
from lake.storage import ObjectStore

CONTRACTS = "_lake/contracts/"


class ContractStore:
    def __init__(self, store: ObjectStore) -> None:
        self._objects: ContentStore[Contract] = ContentStore(
            store,
            CONTRACTS,
            kind="contract",
            key_of=lambda contract: contract.hash,
            encode=lambda contract: contract.to_yaml().encode(),
            decode=lambda data, key: Contract.from_text(data.decode(), f"contract {key[:12]}"),
            verify=lambda key, _data, contract: contract.hash == key,
        )

    def put(self, contract: Contract) -> str:
        return self._objects.put(contract)

    def get(self, key: str) -> Contract:
        return self._objects.get(key)
