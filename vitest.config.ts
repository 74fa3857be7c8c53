import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // e2e tests spawn the built CLI; two workers match the two cores CI has.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
