/**
 * Query benchmark (run by bench/run.mjs, which bundles this file): a store with 10,000 runs of one stage that
 * all read one data set, recorded through the store's own code (real blobs, real SQLite), in 100 sweeps of
 * 100 points; then the query commands through the built CLI, each timed as a whole process.
 * Prints one JSON line of results.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ingest } from "../artifacts/blobs.js"
import { cacheKey, KEY_VERSION, type KeyRecord } from "../cache/fingerprint.js"
import { openStore } from "../cache/store.js"

const [cli, runsArg, countArg] = process.argv.slice(2) as [string, string, string | undefined]
const runs = Number(runsArg)
const COUNT = Number(countArg ?? 10_000)
const PER_SWEEP = 100
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = mkdtempSync(join(tmpdir(), "pipe-bench-queries-"))
try {
  const root = join(dir, "store")
  const store = openStore(root)
  const logs = join(root, "logs")
  const record = (kind: string, params: Record<string, unknown>, inputs: Record<string, string>): KeyRecord => ({
    v: KEY_VERSION,
    kind,
    kindVersion: 1,
    config: null,
    params: params as never,
    deps: {},
    inputs,
    engine: kind === "train" ? { engine: "bench", backend: "cpu" } : null
  })
  const output = (name: string, text: string) => {
    const out = join(dir, "out", name)
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, "result.txt"), text)
    const r = ingest(root, out)
    rmSync(out, { recursive: true, force: true })
    return r
  }
  const t0 = performance.now()
  const dataRec = record("data", { n: 1 }, {})
  const data = store.records.begin({ key: cacheKey(dataRec), pipeline: "bench", stage: "data", kind: "data", reason: "bench", record: dataRec }, logs)
  const d = output("data", "the data set\n")
  store.records.succeed(data.id, "bench", "data", { type: "dataset", manifest: d.manifest, blobs: d.blobs, inputs: {} })
  let rng = 1
  const rand = () => ((rng = (rng * 16807) % 2147483647) / 2147483647)
  const sweeps: Array<number> = []
  store.batch(() => {
    for (let i = 0; i < COUNT; i++) {
      if (i % PER_SWEEP === 0) sweeps.push(store.records.beginSweep("bench", "pipe sweep lr=...", { lr: [] }))
      const params = { lr: Math.round(rand() * 1000) / 1000, model: ["mlp", "cnn", "resnet18"][i % 3]!, seed: i % 5 }
      const rec = record("train", params, { data: d.manifest.hash })
      const run = store.records.begin({ key: cacheKey(rec), pipeline: "bench", stage: "train", kind: "train", reason: "bench", record: rec }, logs)
      const o = output(`t${i}`, `model ${i} ${JSON.stringify(params)}\n`)
      store.records.succeed(run.id, "bench", "train", {
        type: "model",
        manifest: o.manifest,
        blobs: o.blobs,
        inputs: { data: d.manifest.hash },
        metrics: { accuracy: 0.8 + rand() * 0.2, loss: rand() }
      })
      store.records.recordPoint(sweeps.at(-1)!, i % PER_SWEEP, params, "ok", null, {
        data: { run: data.id, key: cacheKey(dataRec) },
        train: { run: run.id, key: cacheKey(rec) }
      })
    }
  })
  const buildSeconds = (performance.now() - t0) / 1000
  store.close()

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
