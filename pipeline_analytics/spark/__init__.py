"""The models on Apache Spark: the same `sql/` files, transpiled from DuckDB SQL at build time."""
