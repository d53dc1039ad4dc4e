"""Run the CLI in a subprocess that dies (SIGKILL) or stops at a chosen point of its work.

    python -m tests.kill_harness POINT ACTION CLI-ARGS...

POINT is `sql:REGEX@N` (just before the Nth SQL statement matching REGEX) or
`call:MODULE:FUNCTION@N` (just before the Nth call of that function). ACTION is `kill` (SIGKILL to
itself: no cleanup, no flush, exactly like `kill -9`), `hold` (print HOLDING and sleep until killed)
or `pause:SECONDS` (print HOLDING, sleep, then carry on). The point not being reached means the
process finishes normally, which the tests notice from its exit code.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import duckdb

from pipeline_analytics import cli


class Trigger:
    def __init__(self, action: str, nth: int) -> None:
        self.action = action
        self.remaining = nth

    def hit(self) -> None:
        self.remaining -= 1
        if self.remaining:
            return
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        print("HOLDING", flush=True)
        time.sleep(3600 if self.action == "hold" else float(self.action.split(":", 1)[1]))


class WatchedConnection:
    """A DuckDB connection that fires the trigger before statements matching a pattern."""

    def __init__(self, con: duckdb.DuckDBPyConnection, pattern: re.Pattern[str], trigger: Trigger):
        self._con, self._pattern, self._trigger = con, pattern, trigger

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> WatchedConnection:
        if self._pattern.search(sql):
            self._trigger.hit()
        self._con.execute(sql, *args, **kwargs)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def install(point: str, trigger: Trigger) -> None:
    kind, spec = point.split(":", 1)
    if kind == "sql":
        pattern = re.compile(spec, re.IGNORECASE)
        connect = cli.connect
        cli.connect = lambda *a, **k: WatchedConnection(connect(*a, **k), pattern, trigger)
        return
    module_name, function_name = spec.split(":")
    module = importlib.import_module(module_name)
    original: Callable[..., Any] = getattr(module, function_name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        trigger.hit()
        return original(*args, **kwargs)

    setattr(module, function_name, watched)


def main() -> int:
    point, action, *cli_args = sys.argv[1:]
    point, _, nth = point.rpartition("@")
    install(point, Trigger(action, int(nth)))
    return cli.main(cli_args)


if __name__ == "__main__":
    sys.exit(main())
