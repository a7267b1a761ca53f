"""Running a contract's checks on writes (installed as lakegate.validation)."""
