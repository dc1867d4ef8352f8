"""Sessions after the accept: running, closing with a grace, closed; a mitra's early end."""
