"""DuckDB SQL to Spark SQL with sqlglot, plus the few rules where sqlglot's own mapping changes
what a query means.

The models are written once, in DuckDB SQL that means the same on both engines (see each model's
header where that took a rewrite). sqlglot does the dialect work; the rules below only correct
mappings that would run on Spark and give a different number:

- DuckDB `epoch(ts)` is seconds with the fraction kept; sqlglot writes Spark `unix_timestamp`,
  which drops it. Written as the microseconds, as a double, over 1e6: what DuckDB computes.
- `quantile_cont(x, p)` and `percentile_cont(p) within group (order by x)` interpolate between the
  two nearest values; sqlglot writes the first as a Spark function of the same name that takes
  other arguments and the second as `percentile_approx`, which is not exact. Both become Spark's
  exact `percentile(x, p)`, the same interpolation. `median(x)` is `percentile(x, 0.5)` on both.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from pipeline_analytics.errors import PipelineError


def to_spark_sql(duckdb_sql: str, *, where: str) -> str:
    """One DuckDB query as Spark SQL; `where` names it (a file) in the error if it cannot be."""
    try:
        (tree,) = sqlglot.parse(duckdb_sql, read="duckdb")
        assert tree is not None
        tree = tree.transform(_faithful_on_spark)
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except (sqlglot.errors.SqlglotError, ValueError) as exc:
        raise PipelineError(
            f"{where}: cannot translate to Spark SQL: {str(exc).splitlines()[0]}; rewrite the "
            "construct in SQL both DuckDB and Spark accept (see docs/architecture.md)"
        ) from exc


def _faithful_on_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.TimeToUnix):
        micros = exp.Anonymous(this="unix_micros", expressions=[_inner(node.this)])
        as_double = exp.Cast(this=micros, to=exp.DataType.build("double"))
        return exp.Paren(this=exp.Div(this=as_double, expression=exp.Literal.number(1_000_000)))
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        (ordered,) = node.expression.expressions
        if ordered.args.get("desc"):
            raise ValueError("percentile_cont ordered descending")
        return _exact_percentile(ordered.this, node.this.this)
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return _exact_percentile(node.this, node.expression)
    if isinstance(node, exp.Median):
        return _exact_percentile(node.this, exp.Literal.number("0.5"))
    return node


def _exact_percentile(value: exp.Expression, fraction: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="percentile", expressions=[_inner(value), _inner(fraction)])


def _inner(node: exp.Expression) -> exp.Expression:
    """A replaced node's operand, with the rules applied inside it too (a transform does not
    visit what a rule returns)."""
    return node.transform(_faithful_on_spark)
