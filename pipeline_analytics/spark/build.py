"""`build --engine spark`: every model of sql/ runs on Spark; the warehouse gets the same tables.

The core tables the models read are written to the staging location as Parquet and registered in
Spark; each model, transpiled to Spark SQL, runs in the build's dependency order and its result is
written to staging as Parquet, which the next models read. Only when every model has run are the
results loaded into the warehouse, in the build's transaction: a failure on Spark changes nothing.
Each table keeps the column types the DuckDB build gives it (taken from DuckDB's plan of the same
model), so forecast, report and notebooks cannot tell which engine built it.

Staging layout: `<staging>/core/<table>` and `<staging>/models/<model>`, overwritten by each
build, so the marts of the last build stay there for a lakehouse to read. A local folder is
written and read by DuckDB directly; any other URI (s3a://, hdfs://, file://...) is written and
read by Spark, the tables travelling between DuckDB and Spark as Arrow batches.
"""

from __future__ import annotations

import logging
import socket
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import duckdb

from pipeline_analytics.build import names_read
from pipeline_analytics.config import SPARK_SESSION_TIME_ZONE, SparkSettings, is_folder
from pipeline_analytics.errors import ConfigError, PipelineError
from pipeline_analytics.spark.transpile import to_spark_sql
from pipeline_analytics.sql_files import sql_statement

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline_analytics.build import Model

log = logging.getLogger(__name__)

SPARK_CONNECT_PORT = 15002  # the port of an sc:// URL that names none
CONNECT_PROBE_SECONDS = 10
# Rows per Arrow batch when a table travels between DuckDB and Spark through the driver.
TRANSFER_BATCH_ROWS = 1_000_000
# Spark settings the models' meaning depends on: a user's [spark.conf] cannot change them.
FIXED_CONF = {"spark.sql.session.timeZone": SPARK_SESSION_TIME_ZONE}
# Defaults a user's [spark.conf] may change: no progress bars on stderr, which is for our log.
LOCAL_DEFAULT_CONF = {"spark.ui.showConsoleProgress": "false"}


def create_models_on_spark(
    con: duckdb.DuckDBPyConnection, models: Sequence[Model], settings: SparkSettings
) -> None:
    """Run the models on Spark and (re)create their tables in the warehouse, in the caller's
    transaction (build_params already written there)."""
    staging = Staging(settings.staging)
    with spark_session(settings) as spark:
        for table in core_tables_read(con, models):
            staging.put_core_table(con, spark, table)
        for model in models:
            _run_model(spark, staging, model)
        for model in models:
            _load_model(con, spark, staging, model)


def core_tables_read(con: duckdb.DuckDBPyConnection, models: Sequence[Model]) -> list[str]:
    """The warehouse tables and views that some model reads and no model builds."""
    tables = con.execute(sql_statement("ops/spark_warehouse_tables")).fetchall()
    core = {name for (name,) in tables} - {m.name for m in models}
    return sorted(frozenset().union(*(names_read(m.sql, core) for m in models)))


class Staging:
    """Where the Parquet files of one build live: a local folder, or a URI only Spark writes."""

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/")
        self.is_local = is_folder(location)

    def path(self, kind: str, table: str) -> str:
        return f"{self.location}/{kind}/{table}"

    def put_core_table(
        self, con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str
    ) -> None:
        started = time.perf_counter()
        target = self.path("core", table)
        if self.is_local:
            folder = Path(target)
            _empty_folder(folder)
            con.execute(
                f"copy (select * from \"{table}\") to '{_quoted(str(folder / 'part-0.parquet'))}' "
                "(format parquet)"
            )
        else:
            _write_through_spark(con, spark, table, target)
        spark.read.parquet(target).createOrReplaceTempView(table)
        log.info("staged %s in %.1f s", table, time.perf_counter() - started)

    def model_files(self, model: str) -> str:
        return str(Path(self.path("models", model)) / "*.parquet")


def _empty_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _write_through_spark(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str, target: str
) -> None:
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    reader = con.sql(f'select * from "{table}"').to_arrow_reader(TRANSFER_BATCH_ROWS)
    # Given, not inferred: Spark cannot infer a schema from an empty table.
    schema = from_arrow_schema(reader.schema)
    mode = "overwrite"
    for batch in reader:
        frame = spark.createDataFrame(pa.Table.from_batches([batch]), schema=schema)
        frame.write.mode(mode).parquet(target)
        mode = "append"
    if mode == "overwrite":  # no rows: write the schema alone
        spark.createDataFrame([], schema=schema).write.mode(mode).parquet(target)


def _run_model(spark: SparkSession, staging: Staging, model: Model) -> None:
    from pyspark.errors import PySparkException

    started = time.perf_counter()
    query = to_spark_sql(model.sql, where=str(model.path))
    target = staging.path("models", model.name)
    try:
        spark.sql(query).write.mode("overwrite").parquet(target)
    except PySparkException as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(";")
        raise PipelineError(
            f"{model.path}: model {model.name} failed on Spark: {first_line}; the warehouse is "
            "unchanged"
        ) from exc
    spark.read.parquet(target).createOrReplaceTempView(model.name)
    log.info("built %s on Spark in %.1f s", model.name, time.perf_counter() - started)


def _load_model(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, staging: Staging, model: Model
) -> None:
    """Replace the model's table with Spark's rows, in the column types DuckDB gives the model."""
    con.execute(f"create or replace table {model.name} as\nselect * from (\n{model.sql}\n) limit 0")
    if staging.is_local:
        source = f"read_parquet('{_quoted(staging.model_files(model.name))}')"
        _insert_as_typed(con, model.name, source)
        return
    con.register("spark_rows", spark.read.parquet(staging.path("models", model.name)).toArrow())
    try:
        _insert_as_typed(con, model.name, "spark_rows")
    finally:
        con.unregister("spark_rows")


def _insert_as_typed(con: duckdb.DuckDBPyConnection, table: str, source: str) -> None:
    wanted = con.execute(sql_statement("ops/spark_model_columns"), {"table_name": table}).fetchall()
    given = {
        name: type_
        for name, type_, *_ in con.execute(f"describe select * from {source}").fetchall()
    }
    missing = [name for name, _ in wanted if name not in given]
    if missing:
        raise PipelineError(f"model {table}: Spark's result lacks the columns {missing}")
    casts = ", ".join(_typed(name, type_, given[name]) for name, type_ in wanted)
    con.execute(f'insert into "{table}" by name select {casts} from {source}')


def _typed(column: str, wanted: str, given: str) -> str:
    value = f'"{column}"'
    if given == "TIMESTAMP WITH TIME ZONE":
        # Spark wrote an instant; the warehouse keeps UTC wall-clock times (the session zone).
        value = f"timezone('UTC', {value})"
    return f'cast({value} as {wanted}) as "{column}"'


def _check_reachable(url: str) -> None:
    """Fail at once when nothing listens at a Spark Connect URL: its client would retry for
    minutes before saying so."""
    where = urlsplit(url.split(";")[0].replace("sc://", "http://", 1))
    host, port = where.hostname or "localhost", where.port or SPARK_CONNECT_PORT
    try:
        socket.create_connection((host, port), timeout=CONNECT_PROBE_SECONDS).close()
    except OSError as exc:
        raise ConfigError(
            f"[spark] master {url}: no Spark Connect server answers at {host}:{port} ({exc}); "
            "start it (sbin/start-connect-server.sh) or fix the address"
        ) from exc


def _quiet_spark_logs(spark: SparkSession, *, remote: bool) -> None:
    """Our log says what failed in one line; Spark would add the whole plan as JSON to stderr."""
    from pyspark.logger import PySparkLogger

    PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    if not remote and not log.isEnabledFor(logging.DEBUG):
        spark.sparkContext.setLogLevel("ERROR")


@contextmanager
def spark_session(settings: SparkSettings) -> Iterator[SparkSession]:
    """A Spark session for the build: local, standalone cluster or Spark Connect, by master."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "build --engine spark needs pyspark: install it with "
            "`pip install 'pipeline-analytics[spark]'` (Java 17+ for a local master)"
        ) from exc
    from pyspark.errors import PySparkException

    remote = settings.master.startswith("sc://")
    if remote:
        _check_reachable(settings.master)
    builder = SparkSession.builder.appName("pipeline-analytics build")
    builder = builder.remote(settings.master) if remote else builder.master(settings.master)
    defaults = {} if remote else LOCAL_DEFAULT_CONF  # a Connect server has its own
    for key, value in {**defaults, **settings.conf, **FIXED_CONF}.items():
        builder = builder.config(key, value)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # pyspark warns about pandas 3 on start; the build hands it no pandas data (Arrow).
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            spark = builder.getOrCreate()
        for key, value in FIXED_CONF.items():
            # an already running session may have been started otherwise; on Spark Connect this
            # is also the first call that reaches the server
            spark.conf.set(key, value)
    except (PySparkException, OSError, RuntimeError) as exc:
        raise ConfigError(
            f"[spark] master {settings.master}: Spark did not start ({str(exc).splitlines()[0]}); "
            "a local master needs Java 17+ on PATH or JAVA_HOME, a cluster or Spark Connect "
            "endpoint must be reachable"
        ) from exc
    _quiet_spark_logs(spark, remote=remote)
    log.info(
        "Spark %s at %s in %.1f s", spark.version, settings.master, time.perf_counter() - started
    )
    yield spark
