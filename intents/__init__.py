"""Question text -> Intent. Pure: no I/O, no SQL. The catalog is passed in."""
