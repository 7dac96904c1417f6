"""Wiring: the objects one running service holds, and how they start and stop."""
