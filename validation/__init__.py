"""Running a contract's checks on writes (installed as lake.validation)."""
