/**
 * Query benchmark (run by bench/run.mjs, which bundles this file): the benchmark store (benchStore.ts: 10,000
 * runs in 100 sweeps of 100 points); then the query commands through the built CLI, each timed as a whole process.
 * Prints one JSON line of results.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildStore } from "./benchStore.js"

const [cli, runsArg, countArg] = process.argv.slice(2) as [string, string, string | undefined]
const runs = Number(runsArg)
const COUNT = Number(countArg ?? 10_000)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = mkdtempSync(join(tmpdir(), "pipe-bench-queries-"))
try {
  const { root, data: d, sweeps, buildSeconds } = buildStore(dir, COUNT)
  const env = { ...process.env, PIPE_STORE: root }
  const time = (args: Array<string>) => {
    const samples: Array<number> = []
    let bytes = 0
    for (let i = 0; i < runs; i++) {
      const s = process.hrtime.bigint()
      bytes = execFileSync(process.execPath, [cli, ...args], { cwd: dir, env, maxBuffer: 512 * 1024 * 1024 }).length
      samples.push(Number(process.hrtime.bigint() - s) / 1e9)
    }
    return { args: args.join(" "), seconds: median(samples), bytes }
  }
  const mid = 1 + Math.floor(COUNT / 2)
  const results = [
    time(["runs", "--stage", "train", "--where", "params.lr>=0.5", "--where", "params.model=cnn", "--sort", "-metrics.accuracy", "--limit", "20"]),
    time(["runs", "--where", "metrics.accuracy>=0.99", "--json", "--limit", "0"]),
    time(["runs", "--sweep", String(sweeps[50]), "--sort", "-metrics.accuracy"]),
    time(["lineage", d.manifest.hash.slice(0, 12), "--down", "--json"]),
    time(["lineage", `#${mid}`]),
    time(["show", `#${mid}`]),
    time(["diff", `#${mid}`, `#${mid + 1}`])
  ]
  console.log(JSON.stringify({ runs: COUNT + 1, buildSeconds, results }))
} finally {
  if (process.env["PIPE_BENCH_KEEP"]) console.error(`kept (PIPE_BENCH_KEEP): ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
}
