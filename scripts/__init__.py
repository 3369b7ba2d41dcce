"""Runbook scripts (.bt) and developer tools."""
