"""pytest fixtures for the fake platform server (tests/fakes/platforms.py)."""
