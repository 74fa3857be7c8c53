/**
 * The engine contract: what `train` and `evaluate` need of whatever trains and runs a model (TensorFlow.js in
 * this process, PyTorch in a worker, a test's stand-in). An engine has a name, its own settings (a Schema
 * whose fields join the train and evaluate params: where and how it runs, such as a tfjs backend or a torch
 * device), the identity that enters the key in their place, and `train` and `evaluate`, each given a job.
 * A job is plain data and callbacks: directories, typed params, the log, the progress line, a way to start
 * programs and an abort signal; an engine never sees a StageContext, the store or the plan. Whatever an engine
 * loads to run (TensorFlow.js, a Python worker) it loads inside train and evaluate, so that planning stays fast.
 * Adding an engine is a folder under engines/ and one line in registry.ts.
 */
import { Data, type Effect, Schema } from "effect"
import type { Readable } from "node:stream"
import type { Figures } from "../ml/evaluation.js"
import { appendTrainingRecord, readModelConfig, readTrainingRecords, writeModelSummary, type EngineIdentity } from "../ml/modelArtifact.js"
import { withoutTimings } from "../ml/timings.js"
import type { EvaluationParams, TrainingParams } from "./params.js"

export type { EngineIdentity }

/** The expected way for an engine to fail: a message for the user (the stage shows it with its log's tail). */
export class EngineError extends Data.TaggedError("EngineError")<{ readonly message: string }> {}

/** What an engine may ask of a program it starts. */
export interface SpawnOptions {
  readonly env?: Readonly<Record<string, string>>
  /** "ignore": the program reads nothing. */
  readonly stdin?: "ignore"
  /** false: a failed program's result is returned (exitCode, signal), not thrown. */
  readonly reject?: boolean
  /** Aborting it stops the program and everything it started. */
  readonly signal?: AbortSignal
}

/** A started program: its output streams, and its result once it exits. */
export interface Spawned extends PromiseLike<{ readonly exitCode?: number | undefined; readonly signal?: string | undefined }> {
  readonly stdout: Readable
  readonly stderr: Readable
}

/**
 * Starts a program in a new process group that dies with the stage, when `signal` aborts and with pipe (the
 * stage passes its context's spawn, which does that); arguments as execa's.
 */
export type Spawn = (file: string, args: ReadonlyArray<string>, options?: SpawnOptions) => Spawned

/** An input artifact as an engine sees it: where its files are, its content hash, and the stage that made it (for messages). */
export interface JobInput {
  readonly stage: string
  readonly dir: string
  readonly hash: string
}

interface Job<S> {
  /** The engine's own settings, decoded by its Schema. */
  readonly params: S
  /** An empty directory: everything in it when the job succeeds is the stage's output artifact. */
  readonly outDir: string
  /** A line for the run's log. */
  readonly log: (line: string) => void
  /** A one-line status of long work, redrawn in place. */
  readonly progress: (line: string) => void
  readonly spawn: Spawn
  /** Aborted when the stage is interrupted: stop soon and reject. */
  readonly signal: AbortSignal
}

export interface TrainJob<S> extends Job<S> {
  /** An image set (ml/imageSet.ts) with train and val splits. */
  readonly split: JobInput
  /** An augmentation policy (its policy.json). */
  readonly policy: JobInput
  readonly training: TrainingParams
  /**
   * A model of the same recipe trained fewer epochs with the same schedule_epochs (the kind checks that): continue
   * it from its last epoch (weights, optimizer state, schedule position, random streams), so that the result is the
   * training's from epoch 0 in one go.
   */
  readonly resume?: JobInput
}

export interface EvaluateJob<S> extends Job<S> {
  /** A model artifact (ml/modelArtifact.ts) this engine trained. */
  readonly model: JobInput
  /** An image set with a test split. */
  readonly split: JobInput
  readonly evaluation: EvaluationParams
}

/** A training's headline figures (the run's metrics); summary.json holds them without the timings. */
export type TrainFigures = {
  readonly model: string
  /** What trained it: the tfjs backend, or torch-<device>. */
  readonly backend: string
  readonly parameters: number
  readonly epochs: number
  readonly train_loss: number
  readonly train_accuracy: number
  readonly val_loss: number
  readonly val_accuracy: number
  readonly images_per_s: number
  readonly seconds: number
}

/** An engine's settings, as the Struct of its fields decodes them. */
export type Settings<F extends Schema.Struct.Fields> = Schema.Schema.Type<Schema.Struct<F>>

/**
 * An engine with settings F. Its operations are methods, so that any engine is an `Engine` (the registry's type)
 * whatever its settings; each gets them through settingsOf, checked by its own Schema.
 */
export interface Engine<F extends Schema.Struct.Fields = Schema.Struct.Fields> {
  readonly name: string
  /**
   * The Schema of the engine's own settings, as a Struct's fields: they join the train and evaluate params, and
   * stay out of the key (the identity stands for them), so naming what `auto` picks does not change the key.
   */
  readonly params: F
  /**
   * What would run with these settings, found without loading the engine's heavy parts: the record that enters
   * the key (and the model artifact's config.json), starting with `engine: name`.
   */
  identity(params: Settings<F>): Effect.Effect<EngineIdentity, EngineError>
  /** Trains on job.split with job.policy and writes a model artifact (ml/modelArtifact.ts) into job.outDir. */
  train(job: TrainJob<Settings<F>>): Promise<TrainFigures>
  /** Evaluates job.model on the test split and writes a metrics artifact (ml/evaluation.ts) into job.outDir. */
  evaluate(job: EvaluateJob<Settings<F>>): Promise<Figures>
}

/**
 * An engine's own settings out of a stage's params, which hold every engine's: checked against its Schema, so
 * the engine gets exactly its own fields, typed.
 */
export const settingsOf = <F extends Schema.Struct.Fields>(engine: Engine<F>, params: unknown): Settings<F> =>
  Schema.validateSync(Schema.Struct(engine.params))(params)

/** One epoch of a training's history, as both engines record it. */
export interface EpochFigures {
  readonly train_loss: number
  readonly train_acc: number
  readonly val_loss: number
  readonly val_acc: number
  readonly images_per_s: number
}

/**
 * A training's headline figures from its history (the last epoch's losses and accuracies, the mean images/s),
 * written to the model's summary.json without the timings, which stay with the run.
 */
export const finishTraining = (
  outDir: string,
  what: { readonly model: string; readonly backend: string; readonly parameters: number; readonly epochs: number },
  history: ReadonlyArray<EpochFigures>,
  seconds: number
): TrainFigures => {
  const last = history.at(-1)!
  const figures: TrainFigures = {
    ...what,
    train_loss: last.train_loss,
    train_accuracy: last.train_acc,
    val_loss: last.val_loss,
    val_accuracy: last.val_acc,
    images_per_s: Math.round(history.reduce((s, h) => s + h.images_per_s, 0) / history.length),
    seconds: Math.round(seconds * 10) / 10
  }
  writeModelSummary(outDir, withoutTimings(figures))
  return figures
}

/**
 * Where a training that continues job.resume starts: the epochs that model was trained (its records, up to them,
 * are copied into the new model's metrics.jsonl, so the history is whole). Refused when that model was trained on
 * another engine or on other data than this job's split and policy.
 */
export const resumePoint = (job: TrainJob<unknown>, engine: string): { readonly epochs: number } | undefined => {
  if (!job.resume) return undefined
  const from = job.resume
  const config = readModelConfig(from.dir)
  if (config.engine.engine !== engine) {
    throw new EngineError({ message: `${from.stage} was trained on the ${config.engine.engine} engine; it continues on ${config.engine.engine} only` })
  }
  if (config.inputs.split !== job.split.hash || config.inputs.augment !== job.policy.hash) {
    throw new EngineError({
      message: `${from.stage} was trained on another ${config.inputs.split !== job.split.hash ? `split (${config.inputs.split.slice(0, 12)}, here ${job.split.hash.slice(0, 12)})` : `augmentation policy (${config.inputs.augment.slice(0, 12)}, here ${job.policy.hash.slice(0, 12)})`}; a training continues only on the same data`
    })
  }
  const epochs = Number(config.params["epochs"])
  for (const r of readTrainingRecords(from.dir)) if (r.epoch <= epochs) appendTrainingRecord(job.outDir, r)
  job.log(`continuing ${from.stage} (${from.hash.slice(0, 12)}) after epoch ${epochs}`)
  return { epochs }
}
