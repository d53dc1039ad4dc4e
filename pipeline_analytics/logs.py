"""Logging on stderr: lines for people, JSON objects for log collectors, progress on terminals.

Modules log with `logging.getLogger(__name__)`; structured fields ride along as `extra={...}`, with
`event` naming what happened (`run_started`, `step_finished`, `stale_lock_cleared`, `error`, ...).
With `--log-json` each record becomes one JSON object on one line carrying those fields. The
progress bar is drawn only when stderr is a terminal and logging is not JSON or quiet, so cron mail
and log files never see carriage returns.

Messages carry CRM text (stage names, file names); in the line format its control characters are
escaped (`\n`, `\x1b`), so an export cannot start a forged log line or send terminal escapes.
JSON lines need nothing more: json.dumps escapes every control character.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

# Attributes every LogRecord has; anything else on a record came in through `extra`.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_installed: logging.Handler | None = None
CLEAR_LINE = "\r\x1b[2K"  # back to the start of the line, then erase it
# C0 controls but tab, DEL, C1 controls, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def escape_control(text: str) -> str:
    """`text` with control characters written as escapes: one log line stays one line."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and key != "event"
        )
        if record.exc_info:
            event["traceback"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


class HumanFormatter(logging.Formatter):
    """`08:01:02 INFO message`; the final error of a command is the bare one-line message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        message = escape_control(record.getMessage())
        if getattr(record, "event", None) == "error":
            return f"pipeline-analytics: {message}"
        # A copy: other handlers (pytest's, a notebook's) still see the record as logged.
        return super().format(
            logging.makeLogRecord({**record.__dict__, "msg": message, "args": None})
        )


class TerminalHandler(logging.StreamHandler[TextIO]):
    """Log lines scroll above a progress bar kept on the terminal's last line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.bar = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.clear()
        super().emit(record)
        self.draw()

    def clear(self) -> None:
        self.stream.write(CLEAR_LINE)
        self.stream.flush()

    def draw(self) -> None:
        self.stream.write(CLEAR_LINE + self.bar)
        self.stream.flush()


class Progress:
    """Steps of a command as a bar, e.g. `[#####.....] 2/4 build 3.1 s`; silent off a terminal."""

    WIDTH = 20

    def __init__(self) -> None:
        self.handler: TerminalHandler | None = None
        self.total = 0
        self.done = 0
        self.step = ""
        self.started = 0.0

    def start(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()

    def begin_step(self, name: str) -> None:
        self.step = name
        self._draw()

    def end_step(self) -> None:
        self.done += 1
        self._draw()

    def finish(self) -> None:
        if self.handler is not None:
            self.handler.bar = ""
            self.handler.draw()

    @contextlib.contextmanager
    def hidden(self) -> Iterator[None]:
        """Lift the bar off the terminal while printing results on stdout (often the same one)."""
        if self.handler is None:
            yield
            return
        self.handler.clear()
        try:
            yield
        finally:
            sys.stdout.flush()
            self.handler.draw()

    def _draw(self) -> None:
        if self.handler is None or not self.total:
            return
        filled = self.WIDTH * self.done // self.total
        self.handler.bar = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
            f"{self.step} {time.monotonic() - self.started:.1f} s"
        )
        self.handler.draw()


PROGRESS = Progress()


def configure_logging(*, level: int, json_lines: bool) -> None:
    """Send log records to stderr (as it is now) in the chosen format; safe to call again."""
    global _installed
    stream = sys.stderr
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    interactive = not json_lines and level <= logging.INFO and stream.isatty()
    handler = TerminalHandler(stream) if interactive else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else HumanFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    _installed = handler
    PROGRESS.handler = handler if isinstance(handler, TerminalHandler) else None


def report_error(message: str, exit_code: int) -> None:
    """The last word of a failed command: one line (or one JSON object) on stderr."""
    logging.getLogger("pipeline_analytics").error(
        message, extra={"event": "error", "exit_code": exit_code}
    )
