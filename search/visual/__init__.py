"""The run report's figures and pages (``python -m search.report``)."""
