"""Metrics and logging: what operators see."""
