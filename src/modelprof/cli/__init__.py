"""The ``modelprof`` command: one module per subcommand, errors turned into one line."""
