"""Errors that are part of the interface: each maps to a documented exit code."""

EXIT_OK = 0  # also a 'partial' run: a step skipped, or rows rejected (see EXIT_PARTIAL)
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_LOCK_BUSY = 3
EXIT_PARTIAL = 4  # rows were rejected and [run] fail_on_rejected_rows = true


class PipelineError(Exception):
    """Base class for errors the user can act on; the message is one line."""

    exit_code = EXIT_UNEXPECTED


class InputError(PipelineError):
    """Bad input file or bad data: the message names the file, row and column and how to fix it."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(PipelineError):
    """Bad configuration: the message names the key and how to fix it."""

    exit_code = EXIT_BAD_INPUT


class LockBusy(PipelineError):
    """Another process holds the warehouse: the message names it (pid, host, start time)."""

    exit_code = EXIT_LOCK_BUSY


class StepSkipped(PipelineError):
    """The data cannot support this step (e.g. a backtest with under six months of history).

    The message says why and what would make it possible, in one line. Every recorded command
    (`runs.py`) logs it as a warning, records the step `skipped` in `run_steps`, goes on with the
    next step and ends with status 'partial' and exit code 0.
    """

    exit_code = EXIT_OK
