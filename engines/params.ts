/**
 * The params every engine takes, whichever runs: what to train (the seed's models, the optimiser, the schedule)
 * and how to evaluate. They enter the key as written; an engine's own settings (where and how it runs) are its
 * own Schema (engine.ts) and stay out of the key.
 */
import { Schema } from "effect"
import { PositiveInt, Probability, Seed, withDefault } from "../ml/schemas.js"

/** The seed's models; every engine builds each of them the same way (the same layers and parameter counts). */
export const MODELS = ["mlp", "cnn", "resnet18", "resnet34"] as const
export type ModelName = (typeof MODELS)[number]

/** Dropout before the last layer unless a run sets it: the seed's ResNets use 0.3; the small models train better without. */
export const DEFAULT_DROPOUT: Readonly<Record<ModelName, number>> = { mlp: 0, cnn: 0, resnet18: 0.3, resnet34: 0.3 }

export const TrainingParams = Schema.Struct({
  model: withDefault(Schema.Literal(...MODELS).annotations({ description: `one of ${MODELS.join(", ")}` }), "cnn"),
  epochs: withDefault(PositiveInt, 10),
  batch_size: withDefault(PositiveInt, 128),
  lr: withDefault(Schema.Number.pipe(Schema.positive({ description: "a positive number" })), 0.001),
  optimizer: withDefault(Schema.Literal("adam", "adamw").annotations({ description: "adam or adamw" }), "adam"),
  weight_decay: withDefault(Schema.Number.pipe(Schema.nonNegative({ description: "a non-negative number" })), 0),
  label_smoothing: withDefault(Probability, 0),
  schedule: withDefault(Schema.Literal("cosine", "constant").annotations({ description: "cosine or constant" }), "cosine"),
  warmup: withDefault(Schema.Number.pipe(Schema.nonNegative({ description: "a non-negative number of epochs" })), 0),
  /**
   * The schedule's horizon in epochs (default: epochs). A training that declares it also keeps its optimizer state
   * in the model, so that a later train of the same recipe can continue it (its `resume` input) from `epochs` on.
   */
  schedule_epochs: Schema.optionalWith(PositiveInt, { exact: true }),
  /** Dropout before the last layer; by default the model's own (DEFAULT_DROPOUT). */
  dropout: Schema.optionalWith(Probability, { exact: true }),
  seed: withDefault(Seed, 0)
})

export type TrainingParams = Schema.Schema.Type<typeof TrainingParams>

/** The epochs the learning-rate schedule runs over. */
export const horizonOf = (p: Pick<TrainingParams, "epochs" | "schedule_epochs">): number => p.schedule_epochs ?? p.epochs

/** The params that must match for one training to continue another: all but epochs (and the engine's settings). */
export const RECIPE = ["model", "batch_size", "lr", "optimizer", "weight_decay", "label_smoothing", "schedule", "warmup", "schedule_epochs", "dropout", "seed"] as const

/**
 * The params as they enter the key: a dropout equal to the model's own default is left out, so writing the
 * default out does not change the key.
 */
export const withoutDefaultDropout = <P extends TrainingParams>(params: P): P => {
  if (params.dropout !== undefined && params.dropout !== DEFAULT_DROPOUT[params.model]) return params
  const copy: { -readonly [K in keyof P]: P[K] } = { ...params }
  delete copy.dropout
  return copy
}

export const EvaluationParams = Schema.Struct({
  /** Batch size of the batched timing and of prediction. */
  batch_size: withDefault(PositiveInt, 256),
  /** Single-image predictions timed (the median is reported). */
  timing_runs: withDefault(PositiveInt, 50),
  /**
   * Test-time augmentation: `flip` averages the class probabilities of each image and its mirror image (for
   * models trained with flips). Inference times include it.
   */
  tta: withDefault(Schema.Literal("none", "flip").annotations({ description: "none or flip" }), "none")
})

export type EvaluationParams = Schema.Schema.Type<typeof EvaluationParams>
