"""Subcommands of the ``dataeff`` command line, one module each (see :mod:`dataeff.cli`)."""
