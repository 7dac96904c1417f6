"""Turning files and texts into stored, searchable chunks."""
