"""Analytics: stage histories into a report (where deals stall, what SLA fits) and backtests."""

from pipeline_rules.analytics.analysis import Analysis, analyze
from pipeline_rules.analytics.backtest import backtest
from pipeline_rules.analytics.report import Backtest, Report

__all__ = ["Analysis", "Backtest", "Report", "analyze", "backtest"]
