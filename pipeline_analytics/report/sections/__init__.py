"""The report's sections, in the order leadership reads them; each is one function returning a
`Section` from warehouse aggregates (one row per KPI, month, stage, owner, method or bin), so the
report's size does not grow with the number of deals. A section whose table or column is not in
the warehouse yet says so instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from pipeline_analytics.report.model import ReportContext, Section
from pipeline_analytics.report.sections.accuracy import accuracy_section
from pipeline_analytics.report.sections.cashflow import cashflow_section
from pipeline_analytics.report.sections.categories import categories_section
from pipeline_analytics.report.sections.changes import changes_section
from pipeline_analytics.report.sections.flow import flow_section
from pipeline_analytics.report.sections.forecast import forecast_section
from pipeline_analytics.report.sections.method import method_section
from pipeline_analytics.report.sections.pipeline import funnel_section, speed_section
from pipeline_analytics.report.sections.quality import quality_section
from pipeline_analytics.report.sections.slippage import slippage_section
from pipeline_analytics.report.sections.summary import summary_section
from pipeline_analytics.report.sections.team import (
    bottlenecks_section,
    sources_section,
    team_section,
)

SectionBuilder = Callable[[duckdb.DuckDBPyConnection, ReportContext], Section]

SECTIONS: tuple[SectionBuilder, ...] = (
    summary_section,
    forecast_section,
    changes_section,
    cashflow_section,
    categories_section,
    slippage_section,
    funnel_section,
    speed_section,
    bottlenecks_section,
    team_section,
    sources_section,
    flow_section,
    accuracy_section,
    quality_section,
    method_section,
)
