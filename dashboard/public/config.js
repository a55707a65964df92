// Runtime settings of the dashboard. Empty here: a production build reads
// VITE_SUPABASE_URL and VITE_SUPABASE_ANON_KEY at build time. The local stack
// (./scripts/wats start) serves its own /config.js with its API URL and anon key.
window.__WATS_CONFIG__ = window.__WATS_CONFIG__ || {};
