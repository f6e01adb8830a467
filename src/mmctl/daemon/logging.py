"""The daemon's logging (only the daemon configures logging; the CLI never imports this).

One pipeline for structlog events and for standard-library `logging` records (ccxt, apscheduler,
asyncio, `warnings`): the same processors (level, UTC timestamp, secret redaction, exceptions rendered
without local variables, so secrets held in locals never reach a log), then every sink:
- stdout in the configured format: `journal` (`event key=value ...`, each line prefixed with its syslog
  priority `<3>` error, `<4>` warning, `<6>` info, `<7>` debug, so `journalctl -p err` works), `json`
  (one JSON object a line) or `console` (readable, for a terminal). `auto` is `journal` when stdout is
  journald (`$JOURNAL_STREAM` names stdout's device and inode), `console` on a terminal, else `json`.
  When stdout is journald every line carries its priority prefix, whatever the format;
- optionally a rotating file of JSON lines (`[log] file`; a relative name is placed in
  `$LOGS_DIRECTORY`, systemd's `LogsDirectory=`, else in the state directory).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from mmctl.config.schema import LogSettings

SECRET_KEY = re.compile(r"secret|passw|token|api_?key|apikey|signature|credential|private", re.IGNORECASE)
REDACTED = "***"

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
"""syslog priority of each level (what journald reads from a `<N>` line prefix)."""
FORMATS = ("auto", "journal", "json", "console")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SECRET_KEY.search(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any key that looks like it holds a secret, at any depth."""
    return _redact(event_dict)  # type: ignore[no-any-return]


def is_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Whether `stream` is connected to journald: `$JOURNAL_STREAM` is its `device:inode`."""
    value = env.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor (a StringIO, a closed stream)
        return False
    return value == f"{st.st_dev}:{st.st_ino}"


# --- renderers: an event dict (after the shared processors) to the text of one record ----------------------


def _logfmt_value(value: Any) -> str:
    """A value as logfmt: bare when it is one printable word, compact JSON for tables and lists,
    else a JSON string."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' ="\\') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


def render_journal(event_dict: EventDict) -> str:
    """`event key=value ...` on one line (journald stamps the time); a traceback on the lines after it.
    The event is written as it is (a library's message may hold spaces), its line breaks escaped."""
    ed = dict(event_dict)
    event = str(ed.pop("event", "")).strip().replace("\n", "\\n")
    ed.pop("level", None)
    ed.pop("timestamp", None)
    exception = ed.pop("exception", None)
    line = " ".join([event, *(f"{k}={_logfmt_value(v)}" for k, v in ed.items())])
    return f"{line}\n{str(exception).rstrip()}" if exception else line


def _renderer(fmt: str) -> Callable[[EventDict], str]:
    """The function that renders a record in `fmt` (`journal`, `json` or `console`)."""
    if fmt == "console":
        console = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        return lambda ed: str(console(None, "", ed))
    if fmt == "journal":
        plain = structlog.processors.ExceptionRenderer()  # traceback.format_exception: no locals
        return lambda ed: render_journal(plain(None, "", ed))
    as_dicts = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False, use_rich=False)
    )
    to_json = structlog.processors.JSONRenderer(default=str)
    return lambda ed: str(to_json(None, "", as_dicts(None, "", ed)))


def with_priority(text: str, level: str) -> str:
    """Every line of `text` prefixed with the syslog priority of `level` (journald reads it per line)."""
    prefix = f"<{PRIORITY.get(level, 6)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


# --- sinks and the pipeline ------------------------------------------------------------------------------


@dataclass
class StreamSink:
    """A text stream (stdout) and how records are rendered on it."""

    stream: TextIO
    render: Callable[[EventDict], str]
    journal: bool

    def write(self, level: str, event_dict: EventDict) -> None:
        text = self.render(event_dict)
        if self.journal:
            text = with_priority(text, level)
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """stdout is not ours to close."""


class FileSink:
    """A size-rotated file of JSON lines (`logging.handlers.RotatingFileHandler` does the rotation)."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self.render = _renderer("json")

    def write(self, level: str, event_dict: EventDict) -> None:
        self.handler.handle(logging.makeLogRecord({"msg": self.render(event_dict), "levelname": level}))

    def close(self) -> None:
        self.handler.close()


class Pipeline:
    """The shared processors, then every sink. Also the structlog logger: the wrapper calls
    `info(**event_dict)` etc. once the processors ran (the last processor returns the dict)."""

    def __init__(self, sinks: list[StreamSink | FileSink]) -> None:
        self.sinks = sinks
        self._lock = threading.Lock()  # stdlib records may come from other threads

    def write(self, level: str, event_dict: EventDict) -> None:
        with self._lock:
            for sink in self.sinks:
                sink.write(level, dict(event_dict))

    def _emit(self, method: str, event_dict: EventDict) -> None:
        level = str(event_dict.get("level", method))
        self.write(level if level in PRIORITY else "info", event_dict)

    # structlog calls the method named by the level with the processed event dict
    def debug(self, **event_dict: Any) -> None:
        self._emit("debug", event_dict)

    def info(self, **event_dict: Any) -> None:
        self._emit("info", event_dict)

    def warning(self, **event_dict: Any) -> None:
        self._emit("warning", event_dict)

    def error(self, **event_dict: Any) -> None:
        self._emit("error", event_dict)

    def critical(self, **event_dict: Any) -> None:
        self._emit("critical", event_dict)

    msg = info
    warn = warning
    fatal = critical
    exception = error

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def _pass_through(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return event_dict


class StdlibHandler(logging.Handler):
    """Standard-library records into the same pipeline (logger name kept as `logger`)."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = record.levelname.lower()
            level = "warning" if level == "warn" else level
            if level not in PRIORITY:
                level = "error" if record.levelno >= logging.ERROR else "info"
            ed: EventDict = {
                "event": record.getMessage(),
                "logger": record.name,
                "level": level,
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            }
            if record.exc_info:
                ed["exc_info"] = record.exc_info
            self.pipeline.write(level, redact_secrets(None, level, ed))
        except Exception:
            self.handleError(record)


@dataclass(frozen=True, slots=True)
class LogTarget:
    """Resolved logging choices: level and stdout format (after the CLI's overrides), the log file."""

    level: str = "info"
    format: str = "auto"
    file: Path | None = None
    file_max_bytes: int = 10 * 1024 * 1024
    file_backups: int = 5


def log_file_path(file: str, state_dir: Path | None, env: Mapping[str, str]) -> Path | None:
    """`[log] file` as a path: "" = none; relative = in `$LOGS_DIRECTORY`, else in the state directory."""
    if not file:
        return None
    path = Path(file).expanduser()
    if path.is_absolute():
        return path
    logs = env.get("LOGS_DIRECTORY", "").split(":")[0]
    base = Path(logs) if logs else state_dir
    return (base / path) if base is not None else path.absolute()


_active: Pipeline | None = None
_handler: StdlibHandler | None = None


def configure(
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    file: Path | None = None,
    file_max_bytes: int = 10 * 1024 * 1024,
    file_backups: int = 5,
    env: Mapping[str, str] | None = None,
) -> None:
    """(Re)configure the daemon's logging. Raises `OSError` when the log file cannot be opened (the
    logging in place is then left as it was)."""
    global _active, _handler
    env = os.environ if env is None else env
    stream = stream or sys.stdout
    journal = is_journal(stream, env)
    if fmt == "auto":
        fmt = "journal" if journal else "console" if stream.isatty() else "json"
    sinks: list[StreamSink | FileSink] = [StreamSink(stream, _renderer(fmt), journal or fmt == "journal")]
    if file is not None:
        sinks.append(FileSink(file, file_max_bytes, file_backups))  # OSError: nothing changed yet
    pipeline = Pipeline(sinks)
    min_level = LEVELS.get(level, logging.INFO)
    structlog.configure(
        processors=[*SHARED, _pass_through],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=lambda *_: pipeline,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = StdlibHandler(pipeline)
    root.addHandler(_handler)
    root.setLevel(min_level)
    logging.captureWarnings(True)
    if _active is not None:
        _active.close()
    _active = pipeline


def configure_target(
    target: LogTarget, stream: TextIO | None = None, env: Mapping[str, str] | None = None
) -> None:
    """`configure` from a `LogTarget`."""
    configure(
        target.level,
        target.format,
        stream,
        file=target.file,
        file_max_bytes=target.file_max_bytes,
        file_backups=target.file_backups,
        env=env,
    )


def reset() -> None:
    """Undo `configure` (tests): structlog's defaults, the stdlib handler removed, the file closed."""
    global _active, _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    if _active is not None:
        _active.close()
        _active = None
    logging.captureWarnings(False)
    structlog.reset_defaults()


def target_for(
    log: LogSettings,
    state_dir: Path | None,
    env: Mapping[str, str],
    *,
    level: str | None = None,
    fmt: str | None = None,
) -> LogTarget:
    """The `[log]` settings as a `LogTarget`, with `mmctl daemon run --log-level/--log-format` (when
    given) taking precedence over the config."""
    return LogTarget(
        level=level or log.level,
        format=fmt or log.format,
        file=log_file_path(log.file, state_dir, env),
        file_max_bytes=log.file_max_mb * 1024 * 1024,
        file_backups=log.file_backups,
    )
