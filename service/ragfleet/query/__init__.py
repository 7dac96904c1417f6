"""The question-answering path: filters, retrieval, prompt, generation."""
