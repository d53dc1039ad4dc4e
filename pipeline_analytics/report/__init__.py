"""The HTML report leadership reads: one self-contained file built from the warehouse's marts."""

from pipeline_analytics.report.render import render_report

__all__ = ["render_report"]
