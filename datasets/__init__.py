"""Asset folders: scanning, loading sprites as RGBA, and the built-in demo plants."""
