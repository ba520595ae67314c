"""Renderers: a report in, text out. The library never prints; only the CLI writes."""
