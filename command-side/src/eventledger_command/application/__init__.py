"""The application layer: commands, their handlers, the repository that loads and saves aggregates."""
