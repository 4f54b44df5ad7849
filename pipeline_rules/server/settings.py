"""What one ``pipeline-rules serve`` process is told: where the rulesets are, how to listen,
the token and the limits; checked once at start-up so a typo fails before the port opens."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_MAX_BODY = 10 * 1024 * 1024

#: Size units, binary as nginx's ``client_max_body_size`` reads them (10MB = 10 × 2^20 bytes).
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


class SettingsError(ValueError):
    """A serve option that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything a server process needs; plain data so worker processes can receive it."""

    ruleset_dir: str
    host: str = "127.0.0.1"
    port: int = 8080
    token_file: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    workers: int = 1
    reload_interval: float = 1.0

    def to_json(self) -> str:
        """The settings as JSON (handed to worker processes through the environment)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings written by :meth:`to_json`."""
        return cls(**json.loads(text))


def parse_size(text: str) -> int:
    """A byte count such as ``10MB``, ``512k`` or ``1048576``; raise SettingsError if not."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise SettingsError(f"'{text}' is not a size (e.g. 10MB, 512KB, 1048576)")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise SettingsError(f"'{text}': the limit must be at least one byte")
    return size


def read_token(path: str) -> str:
    """The bearer token in a file (surrounding whitespace and a final newline ignored)."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SettingsError(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: the token file is not UTF-8 text") from None
    if not token:
        raise SettingsError(f"{path}: the token file is empty")
    if any(c.isspace() for c in token) or not token.isprintable():
        raise SettingsError(f"{path}: the token must be one line of printable characters "
                            "without spaces")
    return token


def check_directory(path: str) -> str:
    """The ruleset directory as given, after making sure it is a readable directory."""
    folder = Path(path)
    if not folder.is_dir():
        raise SettingsError(f"{path}: not a directory")
    try:
        next(iter(folder.iterdir()), None)
    except OSError as err:
        raise SettingsError(f"{path}: {err.strerror or err}") from None
    return path
