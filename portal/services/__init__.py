"""Use cases shared by views, jobs and CLI commands. They change and flush; the caller commits."""
