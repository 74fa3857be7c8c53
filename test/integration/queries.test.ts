/**
 * The query layer on a real SQLite store: the field language (values bound, paths checked), the history
 * filters, lineage over a hand-built chain, gc's keep rules, and migration 5's backfill of sweep point runs.
 */
import Database from "better-sqlite3"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ingest } from "../../artifacts/blobs.js"
import { openDb } from "../../cache/db.js"
import { cacheKey, KEY_VERSION, type KeyRecord } from "../../cache/fingerprint.js"
import { MIGRATIONS } from "../../cache/migrations.js"
import { RefError } from "../../cache/errors.js"
import { lineage } from "../../cache/lineage.js"
import type { Queries } from "../../cache/queries.js"
import { fieldSql, parseCondition } from "../../cache/runFilter.js"
import { openStore, type StoreApi } from "../../cache/store.js"

let dir: string
let store: StoreApi
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pipe-queries-"))
  store = openStore(join(dir, "store"))
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const rec = (kind: string, params: object, inputs: Record<string, string>): KeyRecord => ({
  v: KEY_VERSION,
  kind,
  kindVersion: 1,
  config: null,
  params: params as never,
  deps: {},
  inputs,
  engine: null
})

let n = 0
/** Records a successful run of `stage` whose output is one file with `text`. */
const run = (stage: string, params: object, inputs: Record<string, string>, text: string, metrics?: Record<string, number>) => {
  const record = rec(stage, params, inputs)
  const r = store.records.begin({ key: cacheKey(record), pipeline: "p", stage, kind: stage, reason: "test", record }, join(store.root, "logs"))
  const out = join(dir, `out${n++}`)
  mkdirSync(out)
  writeFileSync(join(out, "f.txt"), text)
  const { manifest, blobs } = ingest(store.root, out)
  store.records.succeed(r.id, "p", stage, { type: stage, manifest, blobs, inputs, ...(metrics ? { metrics } : {}) })
  return { id: r.id, output: manifest.hash }
}

describe("the field language", () => {
  it("types values like YAML and checks fields", () => {
    expect(parseCondition("params.lr=0.01")).toEqual({ field: "params.lr", op: "=", value: 0.01 })
    expect(parseCondition("metrics.acc >= 0.9")).toEqual({ field: "metrics.acc", op: ">=", value: 0.9 })
    expect(parseCondition("stage!=train")).toEqual({ field: "stage", op: "!=", value: "train" })
    expect(parseCondition("params.flag=true").value).toBe(true)
    expect(parseCondition("params.name='3'").value).toBe("3")
    expect(() => parseCondition("lr")).toThrow(RefError)
    expect(() => parseCondition("nope=1")).toThrow("unknown field 'nope'")
  })

  it("puts JSON paths in bound values, never in the SQL text", () => {
    expect(fieldSql("params.lr")).toEqual({ sql: "json_extract(r.record, ?)", args: ['$.params."lr"'] })
    expect(fieldSql("metrics.test_accuracy")).toEqual({ sql: "json_extract(r.metrics, ?)", args: ['$."test_accuracy"'] })
    expect(fieldSql("stage")).toEqual({ sql: "r.stage", args: [] })
    expect(() => fieldSql('params.a"); DROP TABLE runs; --')).toThrow(RefError)
  })
})

describe("history and lineage", () => {
  it("filters, sorts and traces a chain data -> train x3 -> eval", () => {
    const data = run("data", {}, {}, "data")
    const trains = [0.1, 0.3, 0.2].map((lr, i) => run("train", { lr }, { data: data.output }, `model ${i}`, { acc: 0.5 + lr }))
    const ev = run("eval", {}, { train: trains[0]!.output, data: data.output }, "eval")
    const q = store.queries
    const ids = (f: Parameters<Queries["runs"]>[0]) => q.runs(f).map((r) => r.id)
    expect(ids({ stages: ["train"], sort: "-params.lr" })).toEqual([trains[1]!.id, trains[2]!.id, trains[0]!.id])
    expect(ids({ where: [parseCondition("params.lr>0.15")], sort: "metrics.acc" })).toEqual([trains[2]!.id, trains[1]!.id])
    expect(ids({ where: [parseCondition("metrics.acc=null")] })).toEqual([ev.id, data.id])
    expect(ids({ limit: 2 })).toEqual([ev.id, trains[2]!.id])

    const up = lineage(q, q.resolve(ev.output.slice(0, 8), {}), "up")
    expect(up.nodes.filter((x) => x.type === "run").map((x) => x.run!.stage).sort()).toEqual(["data", "eval", "train"])
    expect(up.nodes.find((x) => x.run?.stage === "data")).toBeDefined()
    expect(up.nodes.find((x) => x.id === `artifact:${data.output}`)!.artifact!.files!.map((f) => f.path)).toEqual(["f.txt"])
    const down = lineage(q, q.resolve(data.output, {}), "down")
    expect(down.nodes.filter((x) => x.type === "run").length).toBe(4)
    const shallow = lineage(q, q.resolve(trains[1]!.output, {}), "down")
    expect(shallow.nodes.filter((x) => x.type === "run")).toEqual([])
    expect(q.resolve(`#${trains[1]!.id}`, {})).toEqual({ _tag: "run", id: trains[1]!.id, via: `run #${trains[1]!.id}` })
    expect(q.resolve("train", { pipeline: "p" })).toMatchObject({ _tag: "run", id: trains[2]!.id })
    expect(() => q.resolve("zzzz", {})).toThrow("nothing in this store matches 'zzzz'")
  })

  it("gc keeps heads, needed runs and their producers, and removes the rest", () => {
    const data = run("data", {}, {}, "data")
    const a = run("train", { lr: 1 }, { data: data.output }, "a")
    const b = run("train", { lr: 2 }, { data: data.output }, "b")
    run("train", { lr: 3 }, { data: data.output }, "c") // the head of train
    const report = store.gc({ keepLast: 1, dryRun: false, needed: [a.id] })
    expect(report).toMatchObject({ removedRuns: 1, removedArtifacts: 1, removedBlobs: 1, blobsDeferred: false })
    const q = store.queries
    expect(q.run(b.id)).toBeUndefined()
    expect(q.run(a.id)).toBeDefined()
    expect(q.run(data.id)).toBeDefined()
    expect(q.artifact(b.output)).toBeUndefined()
  })
})

describe("migration 5", () => {
  it("backfills the runs of sweep points recorded before it", () => {
    store.close()
    const path = join(dir, "old.db")
    const old = new Database(path)
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m)
    old.pragma("user_version = 4")
    old.prepare("INSERT INTO sweeps (id, pipeline, command, grid, created_at) VALUES (1, 'p', 'c', '{}', 0)").run()
    old
      .prepare("INSERT INTO sweep_points (sweep_id, point, params, status, metric, runs) VALUES (1, 0, '{}', 'ok', NULL, ?)")
      .run(JSON.stringify({ data: { run: 7, key: "k1" }, train: { run: 9, key: "k2" }, skipped: { key: null } }))
    old.close()
    const db = openDb(path)
    expect(db.prepare("SELECT stage, run_id FROM sweep_point_runs ORDER BY stage").all()).toEqual([
      { stage: "data", run_id: 7 },
      { stage: "train", run_id: 9 }
    ])
    db.close()
    store = openStore(join(dir, "store"))
  })
})
