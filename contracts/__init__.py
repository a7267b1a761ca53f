"""Data contracts, the spec: the declarative model (YAML is the source of truth), compatibility
between versions, and exchange with ODCS and pandera models. What must hold, not how it is
checked: compiling a contract to polars expressions and pandera schemas is :mod:`lake.validation`'s
work. This package imports only ``lake.errors`` of the lake (checked by lint-imports).

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
