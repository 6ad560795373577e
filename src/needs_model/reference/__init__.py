"""Reference data and identifiers: the real administrative units, CCCD numbers, Vietnamese text."""
