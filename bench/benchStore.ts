/**
 * The benchmark store (bench/queries.ts and bench/ui.ts): `count` runs of one train stage that all read one data
 * set, recorded through the store's own code (real blobs, real SQLite), in sweeps of 100 points, each point also
 * recorded as an experiment, as pipe sweep records them.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { ingest } from "../artifacts/blobs.js"
import { cacheKey, KEY_VERSION, type KeyRecord } from "../cache/fingerprint.js"
import { openStore } from "../cache/store.js"

export const PER_SWEEP = 100

export const buildStore = (dir: string, COUNT: number) => {
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
      store.experiments.record({
        pipeline: "bench",
        command: "pipe sweep lr=...",
        sweep: { id: sweeps.at(-1)!, point: (i % PER_SWEEP) + 1 },
        status: "ok",
        params: Object.fromEntries(Object.entries(params).map(([k, v]) => [`train.${k}`, v])),
        metrics: { "train.accuracy": 0.8 + (i % 200) / 1000 },
        runs: { data: data.id, train: run.id },
        gitCommit: null,
        pipeVersion: null
      })
      store.records.recordPoint(sweeps.at(-1)!, i % PER_SWEEP, params, "ok", null, {
        data: { run: data.id, key: cacheKey(dataRec) },
        train: { run: run.id, key: cacheKey(rec) }
      })
    }
  })
  const buildSeconds = (performance.now() - t0) / 1000
  store.close()
  return { root, data: d, sweeps, buildSeconds }

}
