"""build.model_graph: the models of a folder in build order and what each reads, read once from the
files; forecast/asof rebuilds the models its forecast needs from the same graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_analytics.build import model_graph
from pipeline_analytics.errors import PipelineError
from pipeline_analytics.forecast.asof import FORECAST_MODELS, needed_models


def models_folder(folder: Path, models: dict[str, str]) -> Path:
    folder.mkdir()
    for name, sql in models.items():
        (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
    return folder


def test_the_graph_orders_models_after_what_they_read(tmp_path: Path) -> None:
    graph = model_graph(
        models_folder(
            tmp_path / "sql",
            {
                # Names sorted against their order: a file name order would be wrong.
                "a_mart": "select * from c_base join b_int using (id)",
                "b_int": "-- not read: a_mart\nselect id from c_base",
                "c_base": "select 1 as id",
                "d_alone": "select 2 as id;",
            },
        )
    )
    order = [m.name for m in graph.models]
    assert order.index("c_base") < order.index("b_int") < order.index("a_mart")
    assert graph.reads == {
        "a_mart": {"b_int", "c_base"},
        "b_int": {"c_base"},
        "c_base": set(),
        "d_alone": set(),
    }
    assert [m.name for m in graph.upstream_of(["b_int"])] == ["c_base", "b_int"]
    assert [m.name for m in graph.upstream_of(["a_mart", "d_alone"])] == order
    assert graph.models[order.index("d_alone")].sql == "select 2 as id"


def test_models_reading_each_other_are_refused(tmp_path: Path) -> None:
    folder = models_folder(tmp_path / "sql", {"x": "select * from y", "y": "select * from x"})
    with pytest.raises(PipelineError, match="models depend on each other in a cycle"):
        model_graph(folder)


def test_the_forecast_rebuilds_its_models_and_what_they_read_in_build_order() -> None:
    graph = model_graph()
    needed = [m.name for m in needed_models()]
    assert set(FORECAST_MODELS) <= set(needed)
    assert "int_deals_as_of" in needed  # read by the forecast models, not one of them
    assert not any(name.startswith("mart_") for name in needed)
    assert needed == [m.name for m in graph.models if m.name in needed]
    for name in needed:
        assert graph.reads[name] <= set(needed), name
