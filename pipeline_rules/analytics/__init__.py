"""Analytics: stage histories into a report (where deals stall, what SLA fits) and backtests."""

from .analysis import Analysis, analyze
from .backtest import backtest
from .report import Backtest, Report

__all__ = ["Analysis", "Backtest", "Report", "analyze", "backtest"]
