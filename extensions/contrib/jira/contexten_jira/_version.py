"""This package's version: the manifest's, and the one each Jira write is marked with."""

VERSION = "1.0.0"
