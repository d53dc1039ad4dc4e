"""Simulated CRM exports with a known generating process, for the bundled sample and benchmarks."""

from pipeline_analytics.sample.simulator import SimulatedPipeline, simulate, write_sample

__all__ = ["SimulatedPipeline", "simulate", "write_sample"]
