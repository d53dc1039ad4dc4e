"""`build --engine spark`: the same models on Spark give the tables the DuckDB build gives.

The cross-engine tests build with both engines the sample, its Salesforce rendering (an export
without stage history, with blanks), two export shapes (five deals; no lost deal) and, where
../shared is present, a real Salesforce export, and compare every int_* and mart_* table: same
columns and column types, rows order-free, numbers within a relative 1e-9. Spark runs in local
mode in the test process, and behind a Spark Connect server the test starts for Salesforce, whose
tables travel through a URI staging as Arrow; both need Java 17+; where Java is missing they skip
and say so. pyspark itself comes with `make setup` (the lock holds the [spark] extra), so a
missing pyspark is a broken install and fails.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.build import build, model_graph
from pipeline_analytics.cli import main
from pipeline_analytics.config import SparkSettings, load_config
from pipeline_analytics.errors import ConfigError, PipelineError
from pipeline_analytics.sample.shapes import write_shape
from pipeline_analytics.spark.transpile import to_spark_sql
from tests.conftest import REAL_SALESFORCE_EXPORT, SAMPLE_DIR, write
from tests.sample_snapshot import assert_frames_close, canonical

JAVA = shutil.which("java") or os.environ.get("JAVA_HOME")
needs_java = pytest.mark.skipif(
    not JAVA,
    reason="Java 17+ not found on PATH or in JAVA_HOME: Spark's local mode needs it "
    "(Debian: apt install openjdk-17-jre-headless)",
)
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
# Small data: two shuffle partitions instead of Spark's 200 keep each model's job short.
SPARK_SECTION = """
[spark]
master = "local[2]"
staging = "{staging}"
[spark.conf]
"spark.sql.shuffle.partitions" = 2
"""


def local_spark(staging: Path | str) -> SparkSettings:
    return SparkSettings(
        master="local[2]", staging=str(staging), conf={"spark.sql.shuffle.partitions": "2"}
    )


# --- the SQL: every model translates, and the translation keeps each number's meaning ---------


def test_every_model_translates_to_spark_sql_without_an_approximate_or_truncating_function() -> (
    None
):
    for model in model_graph().models:
        spark_sql = to_spark_sql(model.sql, where=str(model.path)).upper()
        # sqlglot's own mappings would make a median approximate and drop fractions of seconds.
        assert "PERCENTILE_APPROX" not in spark_sql, model.name
        assert "UNIX_TIMESTAMP" not in spark_sql, model.name


def test_a_construct_spark_lacks_is_named_with_its_file() -> None:
    with pytest.raises(PipelineError, match=r"sql/mart_x\.sql: cannot translate to Spark SQL"):
        to_spark_sql("select from where", where="sql/mart_x.sql")


# --- configuration ------------------------------------------------------------------------------


def _sample_config(name: str) -> str:
    """A config of the sample (pipeline, salesforce...) that names its files by absolute path,
    so it can be written anywhere."""
    text = (SAMPLE_DIR / f"{name}.toml").read_text(encoding="utf-8")
    for key in ("path", "history", "activities"):
        text = re.sub(rf'^{key} = "', f'{key} = "{SAMPLE_DIR}/', text, flags=re.MULTILINE)
    return text


def _config(tmp_path: Path, extra: str) -> Path:
    """The sample's config in tmp_path with extra appended."""
    return write(tmp_path / "p.toml", _sample_config("pipeline") + extra)


def test_spark_settings_default_to_local_mode_and_keep_a_uri_staging_as_given(
    tmp_path: Path,
) -> None:
    assert load_config(_config(tmp_path, "")).spark == SparkSettings()
    config = load_config(
        _config(
            tmp_path,
            '[warehouse]\nengine = "spark"\n[spark]\nmaster = "sc://spark.example:15002"\n'
            'staging = "s3a://bucket/pipeline"\n[spark.conf]\n"spark.executor.memory" = "4g"\n'
            '"spark.sql.adaptive.enabled" = true\n"spark.sql.shuffle.partitions" = 64\n',
        )
    )
    assert config.warehouse.engine == "spark"
    assert config.spark == SparkSettings(
        master="sc://spark.example:15002",
        staging="s3a://bucket/pipeline",
        conf={
            "spark.executor.memory": "4g",
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.shuffle.partitions": "64",
        },
    )


def test_a_relative_staging_folder_is_read_from_the_configs_folder(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, '[spark]\nstaging = "parquet/staging"\n'))
    assert config.spark.staging == str(tmp_path / "parquet" / "staging")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[warehouse]\nengine = "postgres"\n', "warehouse.engine"),
        ('[spark]\nmaster = "localhost"\n', "spark.master"),
        ('[spark]\nstaging = " "\n', "spark.staging"),
        ('[spark.conf]\nspark.driver.memory = "8g"\n', "spark.conf.spark"),
        ('[spark.conf]\n"spark.sql.session.timeZone" = "Europe/Rome"\n', "spark.conf."),
        ('[spark]\nmasters = "local[2]"\n', "spark.masters"),
    ],
)
def test_a_bad_spark_setting_is_named(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"key '{key}"):
        load_config(_config(tmp_path, extra))


def _spark_build_in_a_process(db: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`build --engine spark` of the ingested sample, by the CLI in a process with env added."""
    config = str(SAMPLE_DIR / "pipeline.toml")
    assert main(["-q", "--config", config, "--db", str(db), "ingest"]) == 0
    return subprocess.run(
        [sys.executable, "-m", "pipeline_analytics", "--config", config, "--db", str(db)]
        + ["build", "--engine", "spark"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_on_spark_without_pyspark_says_how_to_install_it(tmp_path: Path) -> None:
    # A pyspark that cannot be imported stands for a machine without the [spark] extra.
    (tmp_path / "shadow" / "pyspark").mkdir(parents=True)
    write(tmp_path / "shadow" / "pyspark" / "__init__.py", 'raise ImportError("no pyspark")\n')
    db = tmp_path / "w.duckdb"
    done = _spark_build_in_a_process(db, {"PYTHONPATH": str(tmp_path / "shadow")})
    assert done.returncode == 2, done.stderr
    assert "pip install 'pipeline-analytics[spark]'" in done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from build_params").fetchone() == (0,)


def test_build_on_spark_without_java_says_what_spark_needs(tmp_path: Path) -> None:
    done = _spark_build_in_a_process(
        tmp_path / "w.duckdb", {"JAVA_HOME": str(tmp_path / "no-java-here")}
    )
    assert done.returncode == 2, done.stderr
    assert "Spark did not start" in done.stderr and "Java 17+" in done.stderr


def test_an_unanswered_spark_connect_url_fails_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config(tmp_path, f'[spark]\nmaster = "sc://127.0.0.1:{port}"\n')
    args = ["--config", str(config), "--db", str(tmp_path / "w.duckdb")]
    assert main(["-q", *args, "ingest"]) == 0
    started = time.monotonic()
    assert main([*args, "build", "--engine", "spark"]) == 2
    assert time.monotonic() - started < 60
    assert f"no Spark Connect server answers at 127.0.0.1:{port}" in capsys.readouterr().err


# --- the same tables from both engines ------------------------------------------------------


def _model_tables(db: Path) -> dict[str, tuple[list[tuple[str, str]], object]]:
    """Every int_/mart_ table: its (column, type) list and its rows in canonical order."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [
            n
            for (n,) in con.execute("select table_name from duckdb_tables()").fetchall()
            if n.startswith(("int_", "mart_"))
        ]
        return {
            name: (
                [(c, t) for c, t, *_ in con.execute(f'describe "{name}"').fetchall()],
                canonical(name, con.sql(f'select * from "{name}"').pl()),
            )
            for name in names
        }


def _build_params(db: Path) -> tuple:
    with duckdb.connect(str(db), read_only=True) as con:
        # built_at is the wall time of each build
        return con.execute("select * exclude (built_at) from build_params").fetchone()


def _assert_engines_agree(config_text: str, folder: Path, *, through_cli: bool = False) -> Path:
    """Ingest with config_text (its [spark] section included) into folder, build with DuckDB
    and with Spark from the same ingest, and check every model's table is the same; returns
    the warehouse Spark built. through_cli: the Spark build by the CLI in a process of its own,
    as a user runs it, the engine taken from the config's [warehouse] engine."""
    config = write(folder / "spark.toml", config_text)
    on_duckdb, on_spark = folder / "duckdb.duckdb", folder / "spark.duckdb"
    args = ["-q", "--config", str(config)]
    assert main([*args, "--db", str(on_duckdb), "ingest"]) == 0
    shutil.copy(on_duckdb, on_spark)
    assert main([*args, "--db", str(on_duckdb), "build", "--engine", "duckdb"]) == 0
    if through_cli:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline_analytics", *args, "--db", str(on_spark), "build"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    else:
        assert main([*args, "--db", str(on_spark), "build", "--engine", "spark"]) == 0
    want, got = _model_tables(on_duckdb), _model_tables(on_spark)
    assert sorted(got) == sorted(want) == sorted(m.name for m in model_graph().models)
    for name, (columns, rows) in want.items():
        assert got[name][0] == columns, f"{name}: column types differ"
        assert_frames_close(name, got[name][1], rows)
    assert _build_params(on_spark) == _build_params(on_duckdb)
    return on_spark


@pytest.mark.slow
@needs_java
def test_spark_builds_every_model_as_duckdb_does(tmp_path: Path) -> None:
    staging = tmp_path / "staging"  # a folder: DuckDB writes and reads the Parquet itself
    on_spark = _assert_engines_agree(
        _sample_config("pipeline") + SPARK_SECTION.format(staging=staging), tmp_path
    )
    # The marts of the last build stay in staging as Parquet, for a lakehouse to read.
    assert (staging / "models" / "mart_kpis").is_dir()
    # forecast and report read what Spark built, unchanged.
    args = ["-q", "--config", str(tmp_path / "spark.toml"), "--db", str(on_spark)]
    assert main([*args, "forecast"]) == 0
    assert main([*args, "report", "--output-dir", str(tmp_path / "reports")]) == 0
    assert list((tmp_path / "reports").glob("*.html"))


# Shapes of real exports where an empty group, a NULL or a zero denominator is the rule, not the
# exception (all 13 shapes agreed when checked by hand; these two are kept in the suite).
@pytest.mark.parametrize("shape", ["five_deals", "no_lost"])
@pytest.mark.slow
@needs_java
def test_spark_builds_an_export_shape_as_duckdb_does(tmp_path: Path, shape: str) -> None:
    config = write_shape(shape, tmp_path)  # its files beside it, named relative to it
    staging = tmp_path / "staging"
    _assert_engines_agree(config.read_text() + SPARK_SECTION.format(staging=staging), tmp_path)


@pytest.mark.slow
@needs_java
@pytest.mark.skipif(REAL_SALESFORCE_EXPORT is None, reason="real Salesforce export not present")
def test_spark_builds_a_real_salesforce_export_as_duckdb_does(tmp_path: Path) -> None:
    # Nothing configured but the adapter and the folder: stages and outcomes are inferred.
    source = (
        f'[[sources]]\nname = "crm"\nadapter = "salesforce"\npath = "{REAL_SALESFORCE_EXPORT}"\n'
    )
    _assert_engines_agree(source + SPARK_SECTION.format(staging=tmp_path / "staging"), tmp_path)


@pytest.fixture(scope="module")
def spark_connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server in local mode, as a cluster would run one; yields its sc:// URL."""
    import pyspark

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(submit), "--master", "local[2]", "--class", CONNECT_SERVER]
            + ["--conf", f"spark.connect.grpc.binding.port={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its JVM is a child of the script: stop the whole group
        )
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "Spark Connect server did not start in 120 s"
            time.sleep(0.5)
        yield f"sc://localhost:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _listening(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@needs_java
def test_spark_connect_builds_every_model_as_duckdb_does(
    tmp_path: Path, spark_connect_server: str
) -> None:
    # A URI staging: the core tables travel to Spark, and the results back, as Arrow batches.
    staging = (tmp_path / "staging").as_uri()
    spark = (
        f'[warehouse]\nengine = "spark"\n[spark]\nmaster = "{spark_connect_server}"\n'
        f'staging = "{staging}"\n[spark.conf]\n"spark.sql.shuffle.partitions" = 2\n'
    )
    _assert_engines_agree(_sample_config("salesforce") + spark, tmp_path, through_cli=True)


@pytest.mark.slow
@needs_java
def test_a_model_spark_cannot_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    config = str(SAMPLE_DIR / "pipeline.toml")
    for step in ("ingest", "build"):
        assert main(["-q", "--config", config, "--db", str(db), step]) == 0
    before = _model_tables(db)
    with duckdb.connect(str(db)) as con:
        built_at = con.execute("select built_at from build_params").fetchone()
    models = tmp_path / "models"
    models.mkdir()
    # DuckDB runs to_days(); Spark has no such function: the build fails on Spark only.
    write(models / "int_open_deals.sql", "select count(*) as deals from deals\n")
    write(models / "mart_spark_only_fails.sql", "select to_days(deals) as d from int_open_deals\n")
    with duckdb.connect(str(db)) as con:
        with pytest.raises(PipelineError, match=r"mart_spark_only_fails\.sql: model .* on Spark"):
            build(
                con,
                lookback_days=365,
                currency="USD",
                sql_dir=models,
                spark=local_spark(tmp_path / "staging"),
            )
        assert con.execute("select built_at from build_params").fetchone() == built_at
    after = _model_tables(db)
    assert sorted(after) == sorted(before)  # int_open_deals not added, no mart dropped


@pytest.mark.slow
@needs_java
def test_spark_keeps_fractions_of_seconds_and_exact_percentiles(tmp_path: Path) -> None:
    from pipeline_analytics.spark.build import Staging, spark_session

    con = duckdb.connect()
    con.execute(
        "create table t as select timestamp '2024-01-01 00:00:00' as a, "
        "timestamp '2024-01-01 00:00:01.25' + to_days(i::int) as b, i::double as x "
        "from range(1, 11) as r(i)"
    )
    query = (
        "select min(epoch(b) - epoch(a)) as seconds, quantile_cont(x, 0.1) as p10, "
        "percentile_cont(0.9) within group (order by x) as p90, median(x) as p50 from t"
    )
    with spark_session(local_spark(tmp_path)) as spark:
        Staging(str(tmp_path)).put_core_table(con, spark, "t")
        row = spark.sql(to_spark_sql(query, where="test")).collect()[0]
    # By hand: 1 day and 1.25 s; x = 1..10, linear interpolation at (n - 1) * p.
    want = {"seconds": 86_401.25, "p10": 1.9, "p90": 9.1, "p50": 5.5}
    for key, value in want.items():
        assert math.isclose(row[key], value, rel_tol=1e-12), (key, row[key])
    assert con.execute(query).fetchone() == pytest.approx(tuple(want.values()), rel=1e-12)
