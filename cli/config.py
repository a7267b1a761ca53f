"""`lake`'s settings: a `lake.toml` found upward from the working directory, then the user's
config file, under environment variables and flags.

```toml
repo = "s3://bucket/lake"     # --repo, LAKE_REPO
branch = "main"               # --branch of the commands that commit, LAKE_BRANCH
author = "etl-bot"            # --author, LAKE_AUTHOR
[storage]                     # storage options (the AWS_* names), under the environment's
AWS_PROFILE = "analytics"
```

Precedence, highest first: a flag, its environment variable, the nearest `lake.toml` (this folder
or a parent), the user's file (`~/.config/lake/config.toml`, or `$XDG_CONFIG_HOME/lake/`; the
folder typer's ``get_app_dir`` names on other systems). The files' values reach the commands as
click's ``default_map``, so they sit exactly between an environment variable and the built-in
default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

import lake

FILE = "lake.toml"
KEYS = {"repo": "LAKE_REPO", "branch": "LAKE_BRANCH", "author": "LAKE_AUTHOR"}  # key: its variable
STORAGE = "storage"


def user_file() -> Path:
    return Path(typer.get_app_dir("lake")) / "config.toml"


def project_file(start: Path | None = None) -> Path | None:
    """The nearest ``lake.toml`` in ``start`` (default: the working directory) or a parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Setting:
    key: str
    value: str | None
    source: str  # "flag or environment: LAKE_REPO", a file's path, or "default"


@dataclass
class Settings:
    """The values of the files, each with the file it came from."""

    values: dict[str, tuple[Any, Path]] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        found = self.values.get(key)
        return found[0] if found is not None else None

    def storage_options(self) -> dict[str, str]:
        """The files' storage options that the environment does not set itself."""
        given = self.get(STORAGE) or {}
        return {k.upper(): str(v) for k, v in given.items() if not os.environ.get(k.upper())}

    def effective(self) -> list[Setting]:
        """Every setting as a command sees it, and where it comes from (secrets masked)."""
        out = []
        for key, var in KEYS.items():
            if os.environ.get(var):
                out.append(Setting(key, os.environ[var], f"environment: {var}"))
            elif key in self.values:
                value, path = self.values[key]
                out.append(Setting(key, str(value), str(path)))
            else:
                out.append(Setting(key, _DEFAULTS.get(key), "default"))
        from lake.storage.options import SECRET_OPTIONS

        stored = self.values.get(STORAGE)
        for name, value in sorted((stored[0] if stored else {}).items()):
            upper = name.upper()
            shown = "***" if upper in SECRET_OPTIONS else str(value)
            if os.environ.get(upper):
                out.append(
                    Setting(
                        f"{STORAGE}.{upper}",
                        "***" if upper in SECRET_OPTIONS else os.environ[upper],
                        f"environment: {upper}",
                    )
                )
            else:
                out.append(Setting(f"{STORAGE}.{upper}", shown, str(stored[1]) if stored else "default"))
        return out


_DEFAULTS = {"repo": ".lake", "branch": "main", "author": None}


def load(start: Path | None = None) -> Settings:
    """The settings of the user's file, overridden by the nearest ``lake.toml``'s."""
    settings = Settings()
    for path in (user_file(), project_file(start)):
        if path is None or not path.is_file():
            continue
        for key, value in _read(path).items():
            if key == STORAGE and key in settings.values:  # the project's options over the user's
                value = {**settings.values[key][0], **value}
            settings.values[key] = (value, path)
    return settings


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise lake.InvalidInputError(
            f"{path} is not valid TOML: {exc}", hint="fix the file, or remove it"
        ) from exc
    except OSError as exc:
        raise lake.InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for key, value in data.items():
        _check(path, key, value)
    return data


def _check(path: Path | str, key: str, value: Any) -> None:
    from lake.storage.options import S3_OPTIONS  # loads pyarrow: only for a file that has settings

    if key == STORAGE:
        if not isinstance(value, Mapping):
            raise lake.InvalidInputError(f"{path}: [{STORAGE}] must be a table of storage options")
        for name, item in value.items():
            if name.upper() not in S3_OPTIONS:
                raise lake.InvalidInputError(
                    f"{path}: unknown storage option {name!r}",
                    hint=f"accepted: {', '.join(sorted(S3_OPTIONS))}",
                )
            if not isinstance(item, str | int | float | bool):
                raise lake.InvalidInputError(f"{path}: storage option {name!r} must be a string")
        return
    if key not in KEYS:
        raise lake.InvalidInputError(
            f"{path}: unknown setting {key!r}", hint=f"settings: {', '.join([*KEYS, STORAGE + '.NAME'])}"
        )
    if not isinstance(value, str) or not value.strip():
        raise lake.InvalidInputError(f"{path}: {key} must be a non-empty string")


def default_map(command: Any, settings: Settings) -> dict[str, Any]:
    """click's ``default_map`` for ``command`` (the typer app's click command) and its
    subcommands: the files' ``repo``, ``branch`` and ``author`` for every option of that name."""
    given = {key: settings.get(key) for key in KEYS if settings.get(key) is not None}
    out: dict[str, Any] = {}
    for param in command.params:
        if param.param_type_name == "option" and param.name in given:
            out[param.name] = given[param.name]
    commands = getattr(command, "commands", None)
    if commands:
        for name, sub in commands.items():
            nested = default_map(sub, settings)
            if nested:
                out[name] = nested
    return out


def set_value(key: str, value: str, *, user: bool) -> Path:
    """Write ``key = value`` (``storage.NAME`` for a storage option) to the user's file, or to the
    nearest ``lake.toml`` (a new one in the working directory if there is none); comments and
    the rest of the file are kept."""
    import tomlkit

    path = user_file() if user else (project_file() or Path.cwd() / FILE)
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    if key.startswith(STORAGE + "."):
        name = key.split(".", 1)[1].upper()
        _check(path, STORAGE, {name: value})
        table = document.get(STORAGE)
        if table is None:
            table = tomlkit.table()
            document[STORAGE] = table
        table[name] = value
    else:
        _check(path, key, value)
        document[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path
