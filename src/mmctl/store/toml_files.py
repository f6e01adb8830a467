"""Bot definitions as one TOML file per bot in a directory (written with tomli-w, atomically).

The daemon keeps its definitions in the SQLite store; this is the older `<state_dir>/bots/` layout,
read once by the store's first-start import (`SqliteStore.import_toml`), and a `DefinitionStore` for
tools and tests that want plain files. A write goes to a temporary file in the same directory, is
fsynced and renamed over the old file, so a crash leaves either the old or the new definition, never
half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from mmctl.errors import ConfigError


class TomlDefinitionStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.toml"

    def load_all(self) -> dict[str, dict[str, Any]]:
        if not self.directory.is_dir():
            return {}
        out: dict[str, dict[str, Any]] = {}
        for path in sorted(self.directory.glob("*.toml")):
            try:
                out[path.stem] = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"{path}: cannot read bot definition: {e}") from None
        return out

    def save(self, name: str, definition: dict[str, Any]) -> None:
        text = tomli_w.dumps(definition)
        try:
            self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        except OSError as e:
            raise ConfigError(
                f"cannot write the bot definition {self._path(name)}: {e.strerror} ({self.directory} must "
                "be a directory the daemon's user can write)"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(name))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()
