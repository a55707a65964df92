"""Edge Functions under a real Deno, one process per function."""
