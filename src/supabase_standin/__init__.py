"""A Docker-free stand-in for Supabase's local stack: the Data API (PostgREST), Auth
(GoTrue, phone OTP), Storage and Edge Functions (a real Deno) over a real PostgreSQL
cluster with the Supabase baseline, behind one gateway (Kong's checks), serving the same
HTTP contract so the official clients work against it unchanged. See README.md beside
this file for what it serves and what it does not.

The seam a product uses:

- :class:`StackConfig` — everything about one instance (ports, folders, keys, the typed
  ``supabase/config.toml`` from :func:`load_project_config`), built by the product;
- :class:`Extension` — what the product runs beside the services (start/stop hooks,
  extra variables for the functions, its ports, readiness);
- :class:`Stack` — ``await Stack(config, extensions).serve()`` runs it all;
- :mod:`supabase_standin.control` — cluster, migrations, the daemon, port checks.
"""

from supabase_standin.config import ProjectConfig, load_project_config
from supabase_standin.ports import Port, PortsBusy
from supabase_standin.stack import Extension, Stack, StackConfig

__all__ = ["Extension", "Port", "PortsBusy", "ProjectConfig", "Stack", "StackConfig", "load_project_config"]
