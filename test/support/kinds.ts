/**
 * Small typed stage kinds for tests of wiring and keys: real kind definitions (params with defaults, typed
 * inputs and outputs) that run in-process, like the ML kinds will.
 */
import { Effect, Schema } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { commandKind } from "../../stages/command.js"
import { defineKind } from "../../pipelines/kind.js"
import { makeRegistry } from "../../stages/registry.js"

const writeParams = {
  load: async () => ({
    run: (ctx: { outDir: string; params: unknown }) =>
      Effect.sync(() => writeFileSync(join(ctx.outDir, "params.json"), JSON.stringify(ctx.params)))
  })
}

export const makeData = defineKind({
  kind: "make-data",
  version: 1,
  description: "Writes a dataset",
  fields: {},
  params: Schema.Struct({
    limit: Schema.optionalWith(Schema.Int.pipe(Schema.positive({ description: "a positive integer" })), {
      default: () => 100
    }),
    name: Schema.optionalWith(Schema.String, { default: () => "fashion" })
  }),
  inputs: {},
  output: "dataset",
  ...writeParams
})

export const splitData = defineKind({
  kind: "split-data",
  version: 1,
  description: "Splits a dataset",
  fields: {},
  params: Schema.Struct({ ratio: Schema.optionalWith(Schema.Number, { default: () => 0.8 }) }),
  inputs: { dataset: { type: "dataset" } },
  output: "split",
  ...writeParams
})

export const augmentPolicy = defineKind({
  kind: "augment-policy",
  version: 1,
  description: "Declares an augmentation policy",
  fields: {},
  params: Schema.Struct({ flip: Schema.optionalWith(Schema.Number, { default: () => 0.5 }) }),
  inputs: {},
  output: "augmentation-policy",
  ...writeParams
})

export const trainModel = defineKind({
  kind: "train-model",
  version: 3,
  description: "Trains a model",
  fields: {},
  params: Schema.Struct({
    epochs: Schema.optionalWith(Schema.Int.pipe(Schema.positive({ description: "a positive integer" })), {
      default: () => 1
    }),
    lr: Schema.optionalWith(Schema.Number, { default: () => 0.001 })
  }),
  inputs: { split: { type: "split" }, augment: { type: "augmentation-policy" } },
  output: "model",
  ...writeParams
})

export const testKinds = [commandKind, makeData, splitData, augmentPolicy, trainModel]
export const testRegistry = makeRegistry(testKinds)
