"""Estimators of the region count and architecture bounds, as library functions."""
