"""weightlab: build, weight and audit composite indices."""

__version__ = "0.1.0"
