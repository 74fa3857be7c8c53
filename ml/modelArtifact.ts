/**
 * The `model` artifact: what train writes, whichever engine trained, and what evaluate and the report read.
 * Beside the engine's own weights (model.json + weights.bin for tfjs, model.pt for torch) it holds
 * - policy.json: the augmentation policy it was trained with (its preprocessing, which evaluation applies);
 * - config.json: the model, the params it was trained with, the engine that trained it (its identity, as in
 *   the key), the parameter count, the class names (tfjs only) and the content hashes of its two inputs;
 * - summary.json: the last epoch's figures;
 * - metrics.jsonl: the step and epoch records.
 * No timings: the same training gives the same bytes (they are in the run's record). Every file is written and
 * read through its Schema here; writing encodes in the Schema's field order, which is the order the files have
 * always had, so the bytes (and the hashes downstream keys see) do not depend on who wrote them.
 * It is in ml/ rather than engines/ because the report (ml/report) reads it as well as the engines and stages.
 */
import { ParseResult, Schema } from "effect"
import { appendFileSync, copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const MODEL_FILES = { config: "config.json", summary: "summary.json", records: "metrics.jsonl", policy: "policy.json" } as const

/** A number as JSON holds it: a diverged loss (NaN, Infinity) is written as null, as JSON.stringify does, and read back as NaN. */
const JsonNumber = Schema.transform(Schema.NullOr(Schema.Number), Schema.Number, {
  strict: true,
  decode: (n) => n ?? Number.NaN,
  encode: (n) => (Number.isFinite(n) ? n : null)
})

/** What ran, as the key records it: `engine` names the engine, the rest is its own (backend and version, device...). */
export const EngineIdentity = Schema.Struct({ engine: Schema.String }, Schema.Record({ key: Schema.String, value: Schema.String }))
export type EngineIdentity = Schema.Schema.Type<typeof EngineIdentity>

export const ModelConfig = Schema.Struct({
  model: Schema.String,
  /** The params it was trained with, less the engine's own settings (where it ran is in `engine`). */
  params: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  engine: EngineIdentity,
  /** Trainable parameters, as PyTorch counts them. */
  parameters: Schema.Number,
  /** The split's class names (written by the tfjs engine only). */
  classes: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  /** Content hashes of the split and the augmentation policy it was trained on. */
  inputs: Schema.Struct({ split: Schema.String, augment: Schema.String }),
  /** The model this training continued (its content hash) and the epochs it had been trained. */
  resumed: Schema.optionalWith(Schema.Struct({ from: Schema.String, epochs: Schema.Number }), { exact: true })
})
export type ModelConfig = Schema.Schema.Type<typeof ModelConfig>

export const ModelSummary = Schema.Struct({
  model: Schema.String,
  /** What trained it: the tfjs backend, or torch-<device>. */
  backend: Schema.String,
  parameters: Schema.Number,
  epochs: Schema.Number,
  train_loss: JsonNumber,
  train_accuracy: JsonNumber,
  val_loss: JsonNumber,
  val_accuracy: JsonNumber,
  /** Only in artifacts of train before version 5: the timings are now in the run's record. */
  images_per_s: Schema.optionalWith(Schema.Number, { exact: true }),
  seconds: Schema.optionalWith(Schema.Number, { exact: true })
})
export type ModelSummary = Schema.Schema.Type<typeof ModelSummary>

/** A training step (one in ten or so is recorded): its loss and learning rate. */
export const StepRecord = Schema.Struct({
  type: Schema.Literal("step"),
  epoch: Schema.Number,
  step: Schema.Number,
  loss: JsonNumber,
  lr: Schema.Number
})

/** The end of an epoch: training and validation loss and accuracy. */
export const EpochRecord = Schema.Struct({
  type: Schema.Literal("epoch"),
  epoch: Schema.Number,
  step: Schema.Number,
  train_loss: JsonNumber,
  train_acc: JsonNumber,
  val_loss: JsonNumber,
  val_acc: JsonNumber,
  lr: Schema.Number,
  /** tfjs only: tensors alive after the epoch (it must not grow). */
  tensors: Schema.optionalWith(Schema.Number, { exact: true })
})

export const TrainingRecord = Schema.Union(StepRecord, EpochRecord)
export type TrainingRecord = Schema.Schema.Type<typeof TrainingRecord>

/** A model artifact's file that is missing a field, or is not JSON: the message names the file. */
export class ModelArtifactError extends Error {}

const decode = <A, I>(schema: Schema.Schema<A, I>, text: string, path: string): A => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new ModelArtifactError(`${path}: not JSON (${(e as Error).message})`)
  }
  const r = Schema.decodeUnknownEither(schema)(json)
  if (r._tag === "Left") throw new ModelArtifactError(`${path}: ${ParseResult.TreeFormatter.formatErrorSync(r.left)}`)
  return r.right
}

const writeJson = <A, I>(schema: Schema.Schema<A, I>, path: string, value: A): void =>
  writeFileSync(path, `${JSON.stringify(Schema.encodeSync(schema)(value), null, 2)}\n`)

export const writeModelConfig = (dir: string, config: ModelConfig): void => writeJson(ModelConfig, join(dir, MODEL_FILES.config), config)

export const readModelConfig = (dir: string): ModelConfig => {
  const path = join(dir, MODEL_FILES.config)
  return decode(ModelConfig, readFileSync(path, "utf8"), path)
}

export const writeModelSummary = (dir: string, summary: ModelSummary): void => writeJson(ModelSummary, join(dir, MODEL_FILES.summary), summary)

/** summary.json, when the artifact has one. */
export const readModelSummary = (dir: string): ModelSummary | undefined => {
  const path = join(dir, MODEL_FILES.summary)
  return existsSync(path) ? decode(ModelSummary, readFileSync(path, "utf8"), path) : undefined
}

/** Appends one record to metrics.jsonl, as training goes. */
export const appendTrainingRecord = (dir: string, record: TrainingRecord): void =>
  appendFileSync(join(dir, MODEL_FILES.records), `${JSON.stringify(Schema.encodeSync(TrainingRecord)(record))}\n`)

/** metrics.jsonl's records, in order (none when the artifact has no such file). */
export const readTrainingRecords = (dir: string): Array<TrainingRecord> => {
  const path = join(dir, MODEL_FILES.records)
  if (!existsSync(path)) return []
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l, i) => decode(TrainingRecord, l, `${path}:${i + 1}`))
}

/** Keeps the augmentation policy (an augment artifact's policy.json) with the model trained on it. */
export const copyPolicy = (policyDir: string, modelDir: string): void =>
  copyFileSync(join(policyDir, MODEL_FILES.policy), join(modelDir, MODEL_FILES.policy))
