"""Writers: every way a result leaves the process (text, JSON, SARIF, HTML, Parquet)."""
