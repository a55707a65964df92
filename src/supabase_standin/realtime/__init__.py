"""``/realtime/v1``: Supabase Realtime's Broadcast, authorized by RLS on realtime.messages."""
