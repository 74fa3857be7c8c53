/** Experiment records in a real SQLite store: recording, the plain-rerun rule, filters, sorting, refs, tags, diffs. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { diffExperiments } from "../../cache/expDiff.js"
import type { ExperimentDraft } from "../../cache/experiments.js"
import { parseExpCondition, type ExpFilter } from "../../cache/expFilter.js"
import { openStore, type StoreApi } from "../../cache/store.js"

let dir: string
let store: StoreApi
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pipe-exps-"))
  store = openStore(join(dir, "store"))
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const draft = (lr: number, acc: number | undefined, extra: Partial<ExperimentDraft> = {}): ExperimentDraft => ({
  pipeline: "p",
  command: "pipe run",
  status: "ok",
  params: { "train.lr": lr, "train.model": "mlp", "prep.size": 10 },
  metrics: acc === undefined ? {} : { "eval.accuracy": acc, "train.loss": 1 - acc },
  runs: { prep: 1, train: Math.round(lr * 1e4), eval: Math.round(lr * 1e4) + 1 },
  gitCommit: null,
  pipeVersion: "test",
  ...extra
})

const ids = (f: ExpFilter) => store.experiments.list(f).map((e) => e.id)

describe("experiments", () => {
  it("a plain rerun of the same runs is the same experiment; a name, a tag or other runs make a new one", () => {
    const a = store.experiments.record(draft(0.001, 0.8))
    expect(store.experiments.record(draft(0.001, 0.8))).toEqual({ id: a.id, reused: true })
    expect(store.experiments.record(draft(0.001, 0.8, { name: "base" })).reused).toBe(false)
    expect(store.experiments.record(draft(0.002, 0.85)).reused).toBe(false)
    expect(store.experiments.record(draft(0.001, 0.8, { tags: ["x"] })).reused).toBe(false)
    expect(store.experiments.record(draft(0.001, 0.8, { sweep: { id: 1, point: 1 } })).reused).toBe(false)
  })

  it("filters on params and figures together, numerically, and sorts with missing values last", () => {
    const e1 = store.experiments.record(draft(0.001, 0.8)).id
    const e2 = store.experiments.record(draft(0.003, 0.9)).id
    const e3 = store.experiments.record(draft(0.01, 0.7)).id
    const e4 = store.experiments.record(draft(0.03, undefined, { status: "failed" })).id
    expect(ids({ where: [parseExpCondition("train.lr=1e-3")] })).toEqual([e1])
    expect(ids({ where: [parseExpCondition("train.lr>=0.003"), parseExpCondition("eval.accuracy>0.75")] })).toEqual([e2])
    expect(ids({ sort: "-eval.accuracy" })).toEqual([e2, e1, e3, e4])
    expect(ids({ sort: "eval.accuracy" })).toEqual([e3, e1, e2, e4])
    expect(ids({ where: [parseExpCondition("status=failed")] })).toEqual([e4])
    expect(ids({ where: [parseExpCondition("metrics.eval.accuracy=null")] })).toEqual([e4])
    expect(ids({ where: [parseExpCondition("params.train.model=mlp")], limit: 2 })).toEqual([e4, e3])
    // A bare STAGE.NAME is a param, else a figure; params. and metrics. say which.
    expect(ids({ where: [parseExpCondition("train.loss<0.15")] })).toEqual([e2])
    expect(ids({ where: [parseExpCondition("params.train.loss<0.15")] })).toEqual([])
  })

  it("user text reaches SQLite only as bound values", () => {
    store.experiments.record(draft(0.001, 0.8))
    expect(() => parseExpCondition(`train.lr"); DROP TABLE experiments; --=1`)).toThrow(/unknown field/)
    expect(ids({ where: [parseExpCondition(`train.model='; DROP TABLE experiments; --`)] })).toEqual([])
    expect(store.experiments.list()).toHaveLength(1)
  })

  it("refers to experiments by e<id>, name or tag (the newest), and refuses names that look like ids or paths", () => {
    const a = store.experiments.record(draft(0.001, 0.8, { name: "base", tags: ["paper"] })).id
    const b = store.experiments.record(draft(0.002, 0.82, { name: "base" })).id
    expect(store.experiments.resolve(`e${a}`)?.id).toBe(a)
    expect(store.experiments.resolve("base")?.id).toBe(b)
    expect(store.experiments.resolve("paper")?.id).toBe(a)
    expect(store.experiments.resolve("nothing")).toBeUndefined()
    expect(store.experiments.tag(b, ["paper", "best"])).toBe(2)
    expect(store.experiments.resolve("paper")?.id).toBe(b)
    expect(ids({ tags: ["paper", "best"] })).toEqual([b])
    expect(store.experiments.tag(b, ["best"], true)).toBe(1)
    expect(store.experiments.get(b)?.tags).toEqual(["paper"])
    expect(() => store.experiments.record(draft(0.1, 0.1, { name: "e12" }))).toThrow(/how experiments are numbered/)
    expect(() => store.experiments.record(draft(0.1, 0.1, { tags: ["../x"] }))).toThrow(/invalid tag/)
    expect(() => store.experiments.tag(b, ["a b"])).toThrow(/invalid tag/)
  })

  it("diff: the params that differ, how each figure moved, the stages they share", () => {
    const a = store.experiments.get(store.experiments.record(draft(0.001, 0.8)).id)!
    const b = store.experiments.get(store.experiments.record(draft(0.003, 0.9)).id)!
    const d = diffExperiments(a, b)
    expect(d.params).toEqual([{ key: "train.lr", a: 0.001, b: 0.003 }])
    expect(d.metrics.find((m) => m.key === "eval.accuracy")).toMatchObject({ a: 0.8, b: 0.9 })
    expect(d.metrics.find((m) => m.key === "eval.accuracy")!.delta).toBeCloseTo(0.1)
    expect(d.runs.map((r) => r.stage)).toEqual(["train", "eval"])
    expect(d.shared).toEqual(["prep"])
  })

  it("counts the runs gc removed while keeping the params and figures", () => {
    const id = store.experiments.record(draft(0.001, 0.8)).id
    // No runs table rows exist for these ids in this store: all three are gone.
    expect(store.experiments.get(id)).toMatchObject({ runsGone: 3, metrics: { "eval.accuracy": 0.8 } })
  })
})
