"""Frontends turn a model in some framework's format into a :class:`modelprof.graph.Graph`."""
