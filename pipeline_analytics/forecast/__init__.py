"""Forecasts of bookings, stored per run in forecast_runs, forecast_bookings and forecast_deals.

stage_weighted: the expected open-pipeline bookings per month from stage win rates and the
historical time from each stage to close (no bands; the simulation engine gives those).
"""
