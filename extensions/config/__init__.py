"""The configuration store: one validated, versioned document per namespace (SPEC §8)."""
