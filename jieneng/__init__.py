"""jieneng package."""
