"""Pieces every app shares: the error base and its handler, the message table, calendar
days, the read-only admin. This package imports no app of the project."""
