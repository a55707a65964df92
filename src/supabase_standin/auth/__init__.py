"""The Auth API (``/auth/v1``): GoTrue's (Supabase Auth's) HTTP contract for phone OTP.

Behaviour, rows written in the ``auth`` schema, token claims, the custom access token
hook and error bodies follow GoTrue's source (supabase/auth); the configuration comes
from the ``[auth]`` table of ``supabase/config.toml`` as the Supabase CLI passes it to
GoTrue. The service connects as ``supabase_auth_admin`` (never a superuser).
"""
