"""Pure tests of the stand-in: no stack, no database."""
