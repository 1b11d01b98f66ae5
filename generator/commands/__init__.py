"""Subcommands of ``hipaa-catalog``; see ``generator.cli``."""
