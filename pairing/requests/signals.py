"""Signals of the requests room, for apps above it.

`offers_proven` is sent inside the transaction that first proves offers delivered and/or
seen (`offer_ids`, `delivered`, `seen`), so a figure kept elsewhere from the log rows (the
control center's daily rollups) can change in the same commit as the rows it counts.
"""

from django.dispatch import Signal

offers_proven = Signal()
