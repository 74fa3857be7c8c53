/**
 * The `augment` kind: the training-time augmentation as an artifact (policy.json) that `train` applies per
 * epoch with a seeded generator, plus previews drawn from the dataset: each step on a few images (the seed's
 * Fig. 4) and a grid of samples per class (Fig. 1). Defaults are the seed's: pad 4 + random crop, flip 0.5,
 * normalise with mean 0.5 and std 0.5; rotation and brightness jitter are off (the seed found they did not help).
 */
import { Schema } from "effect"
import { defineKind } from "../pipelines/kind.js"
import { NonNegativeInt, PositiveInt, Probability, Seed, withDefault } from "../ml/schemas.js"

const AugmentParams = Schema.Struct({
  pad: withDefault(NonNegativeInt, 4),
  flip: withDefault(Probability, 0.5),
  rotate: withDefault(Schema.Number.pipe(Schema.between(0, 180, { description: "degrees from 0 to 180" })), 0),
  brightness: withDefault(Probability, 0),
  mean: withDefault(Schema.Number, 0.5),
  std: withDefault(Schema.Number.pipe(Schema.positive({ description: "a positive number" })), 0.5),
  seed: withDefault(Seed, 0),
  /** How many images the step-by-step preview shows. */
  preview: withDefault(PositiveInt, 6)
})

export type AugmentParams = Schema.Schema.Type<typeof AugmentParams>

export const augmentKind = defineKind({
  kind: "augment",
  version: 1,
  description: "The training-time augmentation policy (pad+crop, flip, normalise; optional rotation, brightness) with previews",
  fields: {},
  params: AugmentParams,
  inputs: { dataset: { type: "dataset" } },
  output: "augmentation-policy",
  figures: [],
  load: () => import("./augment.run.js"),
  inProcess: true
})
