"""Sales pipeline analytics and forecasting over CRM exports."""

__version__ = "0.1.0"
