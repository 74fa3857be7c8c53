import { Effect, Either } from "effect"
import { resolve } from "node:path"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { cacheKey } from "../../../cache/fingerprint.js"
import { pipeline } from "../../../pipelines/compose.js"
import { loadPipeline } from "../../../pipelines/loader.js"
import { keyRecord } from "../../../pipelines/plan.js"
import { validate } from "../../../pipelines/validate.js"
import { commandKind } from "../../../stages/command.js"
import { makeRegistry } from "../../../stages/registry.js"
import { augmentPolicy, makeData, splitData, testRegistry, trainModel } from "../../support/kinds.js"

const root = resolve(import.meta.dirname, "../../..")

describe("wiring", () => {
  const doc = (trainNeeds: Array<string>) => ({
    name: "p",
    stages: {
      data: { kind: "make-data" },
      split: { kind: "split-data", needs: ["data"] },
      policy: { kind: "augment-policy" },
      train: { kind: "train-model", needs: trainNeeds }
    }
  })

  it("accepts inputs of the types a kind takes, in any order", () => {
    const p = validate(doc(["policy", "split"]), testRegistry).pipe(Either.getOrThrow)
    expect(p.stages.get("train")!.slots).toEqual({ policy: "augment", split: "split" })
  })

  it("rejects a needed stage whose artifact type the kind cannot take, naming both", () => {
    const r = validate(doc(["data", "policy"]), testRegistry)
    expect(Either.isLeft(r) && r.left).toEqual([
      { path: ["stages", "train", "needs", 0], message: "train takes a split and an augmentation policy; 'data' produces a dataset" },
      { path: ["stages", "train", "needs"], message: "train takes a split and an augmentation policy; nothing in needs provides a split" }
    ])
  })

  it("rejects a second input for a single slot", () => {
    const r = validate(
      { ...doc(["split", "policy", "split2"]), stages: { ...doc([]).stages, split2: { kind: "split-data", needs: ["data"] }, train: { kind: "train-model", needs: ["split", "policy", "split2"] } } },
      testRegistry
    )
    expect(Either.isLeft(r) && r.left.map((d) => d.message)).toEqual([
      "train takes a split and an augmentation policy; 'split2' produces a split"
    ])
  })
})

describe("composition in TypeScript", () => {
  it("builds the same DAG and the same cache keys as pipeline.yaml", async () => {
    const fromYaml = await Effect.runPromise(loadPipeline(resolve(root, "pipeline.yaml"), [], makeRegistry()))
    const fromTs = await Effect.runPromise(loadPipeline(resolve(root, "examples/fashionMnist.ts"), [], makeRegistry()))
    expect(fromTs.workspace).toBe(fromYaml.workspace)
    expect(fromTs.pipeline.order).toEqual(fromYaml.pipeline.order)
    const keys = (l: typeof fromYaml) =>
      l.pipeline.order.map((id) => {
        const node = l.pipeline.stages.get(id)!
        return [id, node.needs, cacheKey(keyRecord(node, { deps: {}, engine: null }, Object.fromEntries(node.needs.map((n) => [n, n]))))]
      })
    expect(keys(fromTs)).toEqual(keys(fromYaml))
    expect(fromTs.pipeline.metric).toEqual(fromYaml.pipeline.metric)
  })

  it("declares the metric and sweeps as pipeline.yaml does, checked the same way", async () => {
    const p = pipeline("t")
    const data = p.stage("data", makeData, { params: { limit: 5 } })
    p.stage("split", splitData, { needs: [data] })
    p.metric("split.count", "min").sweep("sizes", { grid: { "data.limit": [5, 10] }, goal: "min" })
    expect(p.toDocument()).toMatchObject({ metric: { name: "split.count", goal: "min" }, sweeps: { sizes: { grid: { "data.limit": [5, 10] }, goal: "min" } } })
    expect(() => p.sweep("sizes", { grid: {} })).toThrow("sweep 'sizes' is declared twice")
    const bad = pipeline("t")
    bad.stage("data", makeData, {})
    bad.sweep("s", { grid: { "nope.limit": [1] } })
    const r = validate(bad.toDocument(), testRegistry)
    expect(Either.isLeft(r) && r.left.map((d) => d.message).join("\n")).toMatch(/nope/)
  })

  it("returns typed handles and a plain document", () => {
    const p = pipeline("t")
    const data = p.stage("data", makeData, { params: { limit: 5 } })
    const split = p.stage("split", splitData, { needs: [data] })
    const policy = p.stage("policy", augmentPolicy, {})
    p.stage("train", trainModel, { needs: [split, policy] })
    p.stage("log", commandKind, { needs: [data, split], cmd: ["true"] })
    expect(split).toEqual({ id: "split", type: "split" })
    expect(p.toDocument().stages["train"]).toEqual({ kind: "train-model", needs: ["split", "policy"] })
    expect(Either.isRight(validate(p.toDocument(), testRegistry))).toBe(true)
    expect(() => p.stage("data", makeData, {})).toThrow("stage 'data' is defined twice")
  })

  it("makes wiring and param mistakes compile errors", () => {
    const file = resolve(root, "test/fixtures/miswired.ts")
    const config = ts.getParsedCommandLineOfConfigFile(resolve(root, "tsconfig.json"), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {}
    })!
    const program = ts.createProgram([file], { ...config.options, noEmit: true })
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file)
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start!)
        return { line: line + 1, code: d.code, text: ts.flattenDiagnosticMessageText(d.messageText, "\n") }
      })
    expect(errors.map((e) => e.line)).toEqual([10, 11])
    expect(errors[0]!.text).toContain(`Type 'Handle<"dataset">' is not assignable to type 'Handle<`)
    expect(errors[0]!.text).toContain(`readonly split: { readonly type: "split"; }; readonly augment: { readonly type: "augmentation-policy"; }`)
    expect(errors[1]!.text).toContain(`Type 'string' is not assignable to type 'number'`)
  }, 60_000)
})
