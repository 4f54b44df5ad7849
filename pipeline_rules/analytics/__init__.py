"""Analytics: stage histories into a report (where deals stall, what SLA fits) and backtests."""

from .analyze import Analysis, analyze
from .report import Backtest, Report

__all__ = ["Analysis", "Backtest", "Report", "analyze"]
