// The web UI's build: one folder (web/dist) the API serves at `/` (operators/api/webAssets.ts).
// Hashed file names under assets/ let the API cache them for a year.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // No inlined data: URLs for scripts; the CSP allows only 'self'.
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  // `vite` (dev server) proxies the API of `make run` so the UI is same-origin there too.
  server: { proxy: { "/api": "http://127.0.0.1:8080", "/openapi.json": "http://127.0.0.1:8080" } },
});
