"""Data contracts: the declarative model (YAML is the source of truth), its compilation to
polars expressions and pandera schemas, compatibility between versions, and ODCS exchange.

Installed as ``lake.contracts``; users reach it as ``lake.Contract``.
"""

from .compat import ContractChange, ContractDiff, diff_contracts
from .model import CheckSpec, ColumnSpec, Contract, ContractError, DriftMethod, DriftSpec, Problem

__all__ = [
    "CheckSpec",
    "ColumnSpec",
    "Contract",
    "ContractChange",
    "ContractDiff",
    "ContractError",
    "DriftMethod",
    "DriftSpec",
    "Problem",
    "diff_contracts",
]
