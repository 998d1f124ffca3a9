// Browser tests of the web UI: Playwright drives Debian's chromium (no browser download), against
// a real local federation (control planes, kubo, managers, APIs) started by test/support.
// Screenshots of every page land in test/browser/screenshots/ (gitignored).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  // One federation for the whole file; its start takes most of a minute on 2 cores.
  workers: 1,
  fullyParallel: false,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: [["list"]],
  outputDir: "results",
  use: {
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    // Nothing but loopback: the UI fetches nothing from the internet.
    offline: false,
    trace: "off",
    screenshot: "off",
  },
});
