"""Compatibility with the old `CodegenApp`/`ContextenApp`: `from extensions.legacy import
CodegenApp` is the only change a legacy handler module needs (docs/migration.md)."""

__all__ = ["CodegenApp", "ContextenApp"]


def __getattr__(name: str):
    # Lazy (PEP 562): Django imports this package while loading apps, before the models the
    # app module's imports reach are ready.
    if name in __all__:
        from extensions.legacy import app

        return getattr(app, name)
    raise AttributeError(f"module 'extensions.legacy' has no attribute {name!r}")
