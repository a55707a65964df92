"""What a hosted Supabase project adds to PostgreSQL through its own server modules
(supautils, pg-safeupdate), emulated by the local cluster; see ``modules`` and the
baseline's ``06_hosted_modules.sql``."""
