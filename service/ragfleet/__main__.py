"""Allows ``python -m ragfleet``."""

from ragfleet.cli import main

raise SystemExit(main())
