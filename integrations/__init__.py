"""Built-in platform extensions, one folder each, named by its registry key.

Each folder holds its manifest (`extension.py`, named by an entry point in the group
`contexten.extensions` in the root pyproject.toml), client, webhook receiver, actions, demo
data and fixtures. Core derives everything platform-specific from the manifests.
"""
