"""Sub-commands of the ragfleet CLI, one module each."""
