"""The local stack's Storage API (``/storage/v1``), compatible with Supabase Storage."""
