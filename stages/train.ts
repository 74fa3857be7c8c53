/**
 * The `train` kind: one of the seed's models trained on a split with an augmentation policy, per epoch
 * validated, on an engine behind one contract. Output (a `model`): model.json + weights.bin, the policy it
 * was trained with (its preprocessing), config.json, metrics.jsonl (step losses, per-epoch train/val loss and
 * accuracy, learning rate, throughput) and summary.json.
 */
import { Effect, Schema } from "effect"
import { defineKind, StageError } from "./kind.js"
import { MODELS } from "./ml/tfjs/models.js"
import { PositiveInt, Probability, Seed, withDefault } from "./schemas.js"
import { BackendUnavailable, pickBackend, tfjsVersion } from "./ml/tfjs/engine.js"

export const BackendParam = Schema.Literal("auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu").annotations({
  description: "one of auto, tensorflow-gpu, tensorflow, wasm, cpu"
})

const TrainParams = Schema.Struct({
  model: withDefault(Schema.Literal(...MODELS).annotations({ description: `one of ${MODELS.join(", ")}` }), "cnn"),
  epochs: withDefault(PositiveInt, 10),
  batch_size: withDefault(PositiveInt, 128),
  lr: withDefault(Schema.Number.pipe(Schema.positive({ description: "a positive number" })), 0.001),
  optimizer: withDefault(Schema.Literal("adam").annotations({ description: "adam" }), "adam"),
  weight_decay: withDefault(Schema.Number.pipe(Schema.nonNegative({ description: "a non-negative number" })), 0),
  label_smoothing: withDefault(Probability, 0),
  schedule: withDefault(Schema.Literal("cosine", "constant").annotations({ description: "cosine or constant" }), "cosine"),
  warmup: withDefault(Schema.Number.pipe(Schema.nonNegative({ description: "a non-negative number of epochs" })), 0),
  /** Dropout before the last layer; by default the model's own (see models.ts). */
  dropout: Schema.optionalWith(Probability, { exact: true }),
  seed: withDefault(Seed, 0),
  backend: withDefault(BackendParam, "auto"),
  engine: withDefault(Schema.Literal("tfjs").annotations({ description: "tfjs" }), "tfjs")
})

export type TrainParams = Schema.Schema.Type<typeof TrainParams>

/** The engine identity for the key: the backend that will actually run, without loading TensorFlow.js. */
export const tfjsEngine = (backend: TrainParams["backend"]) =>
  Effect.try({
    try: () => ({ engine: "tfjs", backend: pickBackend(backend), tfjs: tfjsVersion() ?? "unknown" }),
    catch: (e) => new StageError({ message: e instanceof BackendUnavailable ? e.message : String(e) })
  })

export const trainKind = defineKind({
  kind: "train",
  version: 3,
  description: "Trains one of the seed's models (mlp, cnn, resnet18, resnet34) with Adam and a cosine schedule",
  fields: {},
  params: TrainParams,
  inputs: { split: { type: "split" }, augment: { type: "augmentation-policy" } },
  output: "model",
  unkeyedParams: ["backend"],
  engine: (_config, params) => tfjsEngine(params.backend),
  load: () => import("./train.run.js")
})
