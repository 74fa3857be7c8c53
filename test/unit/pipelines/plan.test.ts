import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { cacheKey, type CacheKey } from "../../../cache/fingerprint.js"
import { keyRecord, plan, type CacheView, type PastRun } from "../../../pipelines/plan.js"
import { validate } from "../../../pipelines/validate.js"
import { testRegistry } from "../../support/kinds.js"

const pipeline = validate(
  {
    name: "p",
    stages: {
      data: { kind: "make-data", params: { limit: 10 } },
      split: { kind: "split-data", needs: ["data"] },
      policy: { kind: "augment-policy" },
      train: { kind: "train-model", needs: ["split", "policy"], params: { lr: 0.01 } }
    }
  },
  testRegistry
).pipe(Either.getOrThrow)

const noFacts = { deps: {}, engine: null }
const facts = new Map([...pipeline.stages.keys()].map((id) => [id, noFacts]))
const all = new Set(pipeline.order)

/** A cache of past runs held in memory: the planner only sees the CacheView interface. */
const memoryView = (runs: Array<PastRun & { stage: string }>, damaged: Array<string> = []): CacheView => ({
  findOk: (key) => runs.filter((r) => r.key === key && r.status === "ok").at(-1),
  lastOfKey: (key) => runs.filter((r) => r.key === key).at(-1),
  head: (stage) => runs.filter((r) => r.stage === stage).at(-1),
  damage: (a) => (damaged.includes(a) ? ["blob abc missing"] : [])
})

const runOf = (id: number, stage: string, inputs: Record<string, string>, output: string, status = "ok") => {
  const record = keyRecord(pipeline.stages.get(stage)!, noFacts, inputs)
  return { id, stage, key: cacheKey(record) as string, status, record, output }
}

describe("plan", () => {
  it("runs everything on an empty cache; downstream keys wait for upstream outputs", () => {
    const p = plan(pipeline, all, facts, memoryView([]), false)
    expect(p.map((s) => [s.id, s.decision._tag])).toEqual([
      ["data", "Run"],
      ["split", "Blocked"],
      ["policy", "Run"],
      ["train", "Blocked"]
    ])
    expect(p[0]!.decision).toMatchObject({ reason: "no previous run" })
    expect(p[1]!.decision).toMatchObject({ on: ["data"] })
  })

  it("reuses cached outputs and feeds their hashes downstream", () => {
    const runs = [
      runOf(1, "data", {}, "D"),
      runOf(2, "policy", {}, "P"),
      runOf(3, "split", { data: "D" }, "S"),
      runOf(4, "train", { split: "S", policy: "P" }, "M")
    ]
    const p = plan(pipeline, all, facts, memoryView(runs), false)
    expect(p.map((s) => s.decision._tag)).toEqual(["Cached", "Cached", "Cached", "Cached"])
    expect(p[3]!.decision).toMatchObject({ output: "M", note: "up to date" })
  })

  it("says which param changed, against the stage's last run", () => {
    const old = runOf(1, "data", {}, "D")
    const changed = validate(
      { name: "p", stages: { data: { kind: "make-data", params: { limit: 20 } } } },
      testRegistry
    ).pipe(Either.getOrThrow)
    const p = plan(changed, new Set(["data"]), new Map([["data", noFacts]]), memoryView([old]), false)
    expect(p[0]!.decision).toMatchObject({ _tag: "Run", reason: "params changed: limit 10 -> 20" })
  })

  it("restores an older key from the run-cache, and notes it", () => {
    const current = runOf(1, "data", {}, "D")
    const other = { ...current, id: 2, key: "other" as CacheKey, output: "D2" }
    const p = plan(pipeline, new Set(["data"]), facts, memoryView([current, other]), false)
    expect(p[0]!.decision).toMatchObject({ _tag: "Cached", output: "D", note: "restored from run-cache (run #1)" })
  })

  it("reruns a stage whose cached output is damaged, and one whose last run failed", () => {
    const runs = [runOf(1, "data", {}, "D"), runOf(2, "policy", {}, "P", "failed")]
    const p = plan(pipeline, all, facts, memoryView(runs, ["D"]), false)
    expect(p[0]!.decision).toMatchObject({ _tag: "Run", reason: "cached output damaged: blob abc missing", damagedOutput: "D" })
    expect(p[2]!.decision).toMatchObject({ _tag: "Run", reason: "previous run failed" })
  })

  it("--force runs even cached stages", () => {
    const p = plan(pipeline, new Set(["data"]), facts, memoryView([runOf(1, "data", {}, "D")]), true)
    expect(p[0]!.decision).toMatchObject({ _tag: "Run", reason: "--force" })
  })
})
