"""The ``hipaa-catalog`` command: the entry point (``main``), one module per subcommand group, output helpers."""
