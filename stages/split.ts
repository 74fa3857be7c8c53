/**
 * The `split` kind: the official training set split into train and validation, stratified by class and
 * shuffled with a seed (the seed used 8:2); the test set passes through untouched. Same params, same bytes.
 */
import { Schema } from "effect"
import { defineKind } from "../pipelines/kind.js"
import { Fraction, Seed, withDefault } from "../ml/schemas.js"

const SplitParams = Schema.Struct({
  ratio: withDefault(Fraction, 0.8),
  seed: withDefault(Seed, 0)
})

export type SplitParams = Schema.Schema.Type<typeof SplitParams>

export const splitKind = defineKind({
  kind: "split",
  version: 1,
  description: "Stratified, seeded train/validation split of a dataset's training set; the test set passes through",
  fields: {},
  params: SplitParams,
  inputs: { dataset: { type: "dataset" } },
  output: "split",
  figures: [],
  load: () => import("./split.run.js"),
  inProcess: true
})
