"""Printing: print jobs, printer status, reprints; a sale as a receipt for `printers/`."""
