"""structured-supervisor: a supervised service manager on anyio's structured concurrency."""

__version__ = "0.1.0"

__all__ = ["__version__"]
