"""ragfleet: a retrieval-augmented generation service, from a laptop to a fleet of GPU hosts."""

__version__ = "0.1.0"
