/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `./scripts/wats dashboard` runs this dev server against the local stack (it sets
// VITE_SUPABASE_URL and VITE_SUPABASE_ANON_KEY); `vite build` writes dist/.
export default defineConfig({
  plugins: [react()],
  server: { host: "127.0.0.1", strictPort: true },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 700 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
