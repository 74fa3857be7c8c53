/**
 * The SLURM test cluster has two one-CPU nodes: test files that use it (and kill its nodes, fill its queue or
 * need both nodes free) take turns. `holdCluster()` in a describe block waits for the cluster to be free (a
 * directory made atomically under the cluster's own directory, naming its holder), holds it for the block's
 * tests and frees it afterwards. A holder that died leaves its pid behind: the next file takes over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterAll, beforeAll } from "vitest"

const LOCK = join(process.env["PIPE_CLUSTER_DIR"] ?? "/tmp/pipe-cluster", "test-lock")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const holdCluster = (waitMs = 600_000): void => {
  beforeAll(async () => {
    for (const end = Date.now() + waitMs; ; await sleep(250)) {
      try {
        mkdirSync(LOCK)
        writeFileSync(join(LOCK, "pid"), String(process.pid))
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        let holder = NaN
        try {
          holder = Number(readFileSync(join(LOCK, "pid"), "utf8"))
        } catch {}
        if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(LOCK, { recursive: true, force: true })
        if (Date.now() > end) throw new Error(`the test cluster stayed busy for ${waitMs / 1000} s (${LOCK}, held by pid ${holder})`)
      }
    }
  }, waitMs + 10_000)
  afterAll(() => {
    try {
      if (Number(readFileSync(join(LOCK, "pid"), "utf8")) === process.pid) rmSync(LOCK, { recursive: true, force: true })
    } catch {}
  })
}
