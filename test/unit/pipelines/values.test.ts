/** What may be a param value: exactly what JSON can carry, so keys and programs see the same thing. */
import { Effect, Either } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cacheKey } from "../../../cache/fingerprint.js"
import { errorText } from "../../../cli/render.js"
import type { PipelineInvalid, UsageError } from "../../../pipelines/errors.js"
import { loadPipeline } from "../../../pipelines/loader.js"
import { parseOverride } from "../../../pipelines/overrides.js"
import { keyRecord } from "../../../pipelines/plan.js"
import { makeRegistry } from "../../../stages/registry.js"

const dir = mkdtempSync(join(tmpdir(), "pipe-values-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

const load = (yaml: string, sets: Array<string> = []) => {
  const file = join(dir, `p${n++}.yaml`)
  writeFileSync(file, yaml)
  const overrides = sets.map((s) => Either.getOrThrow(parseOverride(s)))
  return Effect.runPromise(Effect.either(loadPipeline(file, overrides, makeRegistry())))
}
const problems = async (yaml: string, sets: Array<string> = []) => {
  const r = await load(yaml, sets)
  if (Either.isRight(r)) throw new Error("expected a failure")
  const lines = errorText(r.left as PipelineInvalid | UsageError).split("\n")
  // drop PipelineInvalid's closing "N problems" line
  return (r.left._tag === "PipelineInvalid" ? lines.slice(0, -1) : lines).map((l) => l.replace(/^\S+?\.yaml/, "p.yaml"))
}
const keyOf = async (yaml: string, stage: string, sets: Array<string> = []) => {
  const r = await load(yaml, sets)
  const node = Either.getOrThrow(r).pipeline.stages.get(stage)!
  return cacheKey(keyRecord(node, { deps: {}, engine: null }, {}))
}

const stage = (params: string) => `name: p\nstages:\n  a:\n    kind: command\n    cmd: [echo]\n    params: ${params}\n`

describe("param values", () => {
  it("keep YAML 1.1 tags as strings, so different dates are different keys", async () => {
    const a = await keyOf(stage("{ since: !!timestamp 2001-12-14 }"), "a")
    const b = await keyOf(stage("{ since: !!timestamp 2024-06-30 }"), "a")
    expect(a).not.toBe(b)
    const r = Either.getOrThrow(await load(stage("{ since: !!timestamp 2001-12-14 }")))
    expect(r.pipeline.stages.get("a")!.params).toEqual({ since: "2001-12-14" })
  })

  it("reject numbers JSON cannot carry exactly", async () => {
    expect(await problems(stage("{ x: .inf, y: [1, .nan] }"))).toEqual([
      "p.yaml:6:18 stages.a.params.x: expected a finite number, got Infinity",
      "p.yaml:6:31 stages.a.params.y[1]: expected a finite number, got NaN"
    ])
    expect(await problems(stage("{ seed: 12345678901234567891 }"))).toEqual([
      'p.yaml:6:21 stages.a.params.seed: 12345678901234567891 is too large to be exact (beyond 2^53); write it as a string, e.g. "12345678901234567891"'
    ])
    expect(await problems(stage("{ x: 1 }"), ["a.x=.inf"])).toEqual(["--set a.x=.inf stages.a.params.x: expected a finite number, got Infinity"])
    // 2^53 - 1 is fine
    expect(await keyOf(stage("{ seed: 9007199254740991 }"), "a")).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe("--set and YAML aliases", () => {
  it("an override of one stage does not change another that aliases it", async () => {
    const yaml = "name: p\nstages:\n  a: &base\n    kind: command\n    cmd: [echo]\n    params: { n: 1 }\n  b: *base\n"
    const before = await keyOf(yaml, "b")
    expect(await keyOf(yaml, "b", ["a.n=2"])).toBe(before)
    expect(await keyOf(yaml, "a", ["a.n=2"])).not.toBe(before)
  })

  it("names of built-in object properties are not stages", async () => {
    expect(await problems("name: p\nstages:\n  a:\n    kind: command\n    cmd: [echo]\n    needs: [toString]\n")).toEqual([
      "p.yaml:6:13 stages.a.needs[0]: unknown stage 'toString'"
    ])
    expect(await problems(stage("{}"), ["__proto__.x=1"])).toEqual(["pipe: --set __proto__.x=1: unknown stage '__proto__'"])
  })
})

describe("stage ids", () => {
  it("that differ only in case or punctuation are rejected", async () => {
    const yaml = "name: p\nstages:\n  prep-a:\n    kind: command\n    cmd: [echo]\n  prep_a:\n    kind: command\n    cmd: [echo]\n"
    expect(await problems(yaml)).toEqual(["p.yaml:6:3 stages.prep_a: stage ids 'prep-a' and 'prep_a' differ only in case or punctuation; rename one"])
  })

  it("short names get no far-fetched suggestions", async () => {
    expect(await problems("name: p\nstages:\n  a:\n    kind: command\n    cmd: [echo]\n  b:\n    kind: command\n    cmd: [echo]\n    needs: [zz]\n")).toEqual([
      "p.yaml:9:13 stages.b.needs[0]: unknown stage 'zz'"
    ])
  })

  it("placeholders suggest the param meant", async () => {
    expect(await problems("name: p\nstages:\n  a:\n    kind: command\n    cmd: [echo, '${params.lrr}']\n    params: { lr: 1 }\n")).toEqual([
      "p.yaml:5:17 stages.a.cmd[1]: ${params.lrr} names no param (did you mean 'lr'?); params are: lr"
    ])
  })
})
