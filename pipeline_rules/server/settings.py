"""What one ``pipeline-rules serve`` process is told: where the rulesets are, how to listen,
the token and the limits; checked once at start-up so a typo fails before the port opens."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024

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
    #: Listening beyond loopback without a token is allowed only when this says that an
    #: authenticating proxy stands in front.
    behind_auth_proxy: bool = False
    #: The request line and headers together, in bytes (431 past it).
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    #: Header fields in one request (431 past it).
    max_headers: int = 100
    #: Open connections; one more is answered 503 and closed.
    max_connections: int = 256
    #: Seconds a connection may wait without sending a request (before its first one and
    #: between keep-alive requests).
    idle_timeout: float = 5.0
    #: Seconds from a request's first byte to the end of its headers (408 past it).
    header_timeout: float = 10.0
    #: Seconds from the end of the headers to the end of the body (408 past it).
    body_timeout: float = 30.0
    #: Deals in one /v1/evaluate request (413 past it).
    max_deals: int = 1000
    #: History entries of one deal (413 past it).
    max_history: int = 10_000
    #: Tasks of one deal (413 past it).
    max_tasks: int = 10_000
    #: Events of one deal (413 past it).
    max_events: int = 10_000
    #: Pauses of one deal (413 past it).
    max_pauses: int = 1_000
    #: Threads that evaluate, check and lint, off the event loop.
    compute_threads: int = 2
    #: Requests waiting for (or holding) a compute thread; one more is answered 503.
    compute_queue: int = 16
    #: Seconds a request's computation may take, waiting included (504 past it).
    time_budget: float = 30.0
    #: Seconds SIGTERM waits for the requests in flight before it stops them.
    shutdown_timeout: float = 10.0

    def deal_limits(self) -> dict[str, int]:
        """The most entries each list of one deal may hold, by the list's key."""
        return {"history": self.max_history, "tasks": self.max_tasks,
                "events": self.max_events, "pauses": self.max_pauses}

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


def is_loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_bind(host: str, token_file: str | None, behind_auth_proxy: bool) -> None:
    """Refuse to listen beyond loopback without a token, unless a proxy authenticates."""
    if token_file is None and not behind_auth_proxy and not is_loopback(host):
        raise SettingsError(
            f"--host {host} listens beyond this machine without a token: give --token-file, "
            "or --behind-auth-proxy if an authenticating proxy is the only way in")
