"""Running a contract's checks (installed as lake.validation): the contract compiled to polars
expressions, the one-pass engine, the pandera backend, drift statistics, profiles and the reports.
lake.contracts says what must hold; this package says how it is checked, and imports only
lake.contracts and lake.errors of the lake."""
