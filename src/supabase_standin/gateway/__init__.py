"""The API gateway: one port, the services behind Kong's checks."""
