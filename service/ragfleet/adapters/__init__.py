"""Adapters to the outside world: vector store, embedding model, LLM server."""
