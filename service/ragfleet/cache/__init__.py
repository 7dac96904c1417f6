"""The answer cache: keys, value encoding, and the in-process and Redis backends."""
