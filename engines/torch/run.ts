/**
 * Training and evaluating on the torch engine: a JSON job for the Python worker (worker.py, beside this file),
 * started through the job's spawn (its own process group, which dies with the stage and with pipe). Its NDJSON
 * events on stdout drive the progress line and the log; its stderr goes to the log. It writes the weights
 * (model.pt) and the predictions; this driver writes the rest of the model artifact (ml/modelArtifact.ts) and the
 * metrics (ml/evaluation.ts), the same files as the tfjs engine, so evaluate, analyze, sweeps and lineage do not
 * care which engine ran. A failed or killed worker fails the job; nothing it left is recorded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import type { Schema } from "effect"
import { bar, writeEvaluation, type Figures } from "../../ml/evaluation.js"
import { readImageSet } from "../../ml/imageSet.js"
import { appendTrainingRecord, copyPolicy, MODEL_FILES, writeModelConfig } from "../../ml/modelArtifact.js"
import { withoutTimings } from "../../ml/timings.js"
import { EngineError, finishTraining, resumePoint, type EvaluateJob, type Spawn, type TrainFigures, type TrainJob } from "../engine.js"
import { Evaluated, eventOf, Failed, Trained, TrainProgress, type Epoch } from "./events.js"
import { torchIdentity, workerPath, type TorchIdentity } from "./probe.js"
import { precisionOn, torchEngineRecord, type TorchParams } from "./torchEngine.js"

interface Io {
  readonly log: (line: string) => void
  readonly spawn: Spawn
  readonly signal: AbortSignal
}

/** Runs one worker job, calling `on` for each progress event; returns the final `done` event. */
const runWorker = async <D, DI, P, PI>(
  io: Io,
  python: string,
  job: object,
  done: Schema.Schema<D, DI>,
  progress: Schema.Schema<P, PI> | undefined,
  on: (e: P) => void
): Promise<D> => {
  const dir = mkdtempSync(join(tmpdir(), "pipe-torch-"))
  try {
    const jobFile = join(dir, "job.json")
    writeFileSync(jobFile, JSON.stringify(job))
    const child = io.spawn(python, [workerPath(), jobFile], { reject: false, stdin: "ignore", signal: io.signal, env: { PYTHONUNBUFFERED: "1" } })
    const stderr = (async () => {
      for await (const line of createInterface({ input: child.stderr })) io.log(line)
    })()
    let result: D | undefined
    let error: string | undefined
    for await (const line of createInterface({ input: child.stdout })) {
      const event = progress && eventOf(progress, line)
      if (event !== undefined) {
        on(event)
        continue
      }
      const finished = eventOf(done, line)
      if (finished !== undefined) {
        result = finished
        continue
      }
      const failed = eventOf(Failed, line)
      if (failed) error = failed.message
      else io.log(line)
    }
    const r = await child
    await stderr
    if (io.signal.aborted) throw new EngineError({ message: "interrupted" })
    if (r.exitCode === 0 && result !== undefined) return result
    if (r.exitCode === 3) throw new EngineError({ message: `${python} cannot import torch: ${error ?? ""}` })
    throw new EngineError({
      message: `the torch worker ${r.signal ? `was killed (${r.signal})` : `failed (exit ${r.exitCode})`}${error ? `: ${error}` : ""}`
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const identity = async (p: TorchParams): Promise<TorchIdentity> => {
  try {
    return await torchIdentity(p.python, p.device)
  } catch (e) {
    throw new EngineError({ message: (e as Error).message })
  }
}

export const trainTorch = async (job: TrainJob<TorchParams>): Promise<TrainFigures> => {
  const { training } = job
  const id = await identity(job.params)
  const history: Array<Schema.Schema.Type<typeof Epoch>> = []
  const precision = precisionOn(job.params.precision, id.device)
  job.log(`training on torch ${id.torch} (${id.device}${id.cuda ? `, CUDA ${id.cuda}` : ""}, ${precision}) with ${id.python}`)
  const resumed = resumePoint(job, "torch")
  const t0 = performance.now()
  const done = await runWorker(
    job,
    id.python,
    { task: "train", split: job.split.dir, policy: join(job.policy.dir, MODEL_FILES.policy), out: job.outDir, device: job.params.device, precision, compile: job.params.compile, params: training, ...(resumed ? { resume: job.resume!.dir } : {}) },
    Trained,
    TrainProgress,
    (e) => {
      switch (e.type) {
        case "start":
          job.log(`${e.model}: ${e.parameters.toLocaleString("en")} parameters; ${e.train} training and ${e.val} validation images`)
          break
        case "step": {
          const status = `epoch ${e.epoch}/${training.epochs} ${bar(e.seen / e.total)} ${Math.round((100 * e.seen) / e.total)}% loss ${e.loss.toFixed(4)} ${Math.round(e.images_per_s)} img/s`
          job.progress(status)
          job.log(status)
          appendTrainingRecord(job.outDir, { type: "step", epoch: e.epoch, step: e.step, loss: e.loss, lr: e.lr })
          break
        }
        case "epoch":
          history.push(e)
          // Timings go to the log and the run's metrics, not into the artifact.
          appendTrainingRecord(job.outDir, withoutTimings(e))
          job.log(
            `epoch ${e.epoch}/${training.epochs}: train loss ${e.train_loss.toFixed(4)} acc ${(e.train_acc * 100).toFixed(2)}%, ` +
              `val loss ${e.val_loss.toFixed(4)} acc ${(e.val_acc * 100).toFixed(2)}%, ${Math.round(e.images_per_s)} img/s, ${e.seconds.toFixed(1)} s`
          )
      }
    }
  )
  const last = history.at(-1)
  if (!last) throw new EngineError({ message: "the torch worker trained no epoch" })
  const seconds = (performance.now() - t0) / 1000
  copyPolicy(job.policy.dir, job.outDir)
  writeModelConfig(job.outDir, {
    model: training.model,
    params: training,
    engine: torchEngineRecord(id, job.params),
    parameters: done.parameters,
    inputs: { split: job.split.hash, augment: job.policy.hash },
    ...(resumed ? { resumed: { from: job.resume!.hash, epochs: resumed.epochs } } : {})
  })
  return finishTraining(job.outDir, { model: training.model, backend: `torch-${id.device}`, parameters: done.parameters, epochs: training.epochs }, history, seconds)
}

export const evaluateTorch = async (job: EvaluateJob<TorchParams>): Promise<Figures> => {
  const data = readImageSet(job.split.dir)
  const test = data.splits["test"]
  if (!test) throw new EngineError({ message: `${job.split.stage}: the split has no test set` })
  const id = await identity(job.params)
  const { batch_size, timing_runs, tta } = job.evaluation
  const done = await runWorker(
    job,
    id.python,
    { task: "evaluate", split: job.split.dir, model: job.model.dir, out: job.outDir, device: job.params.device, precision: precisionOn(job.params.precision, id.device), compile: job.params.compile, params: { batch_size, timing_runs, tta } },
    Evaluated,
    undefined,
    () => {}
  )
  return writeEvaluation(
    job.outDir,
    {
      model: job.model.hash,
      classes: data.manifest.classes,
      labels: test.labels,
      predictions: new Uint8Array(readFileSync(join(job.outDir, "predictions.u8"))),
      loss: done.loss,
      parameters: done.parameters,
      msPerImageBatch: done.ms_per_image_batch,
      msPerImageSingle: done.ms_per_image_single,
      batchSize: batch_size,
      tta,
      plainCorrect: done.plain_correct,
      backend: `torch-${id.device}`
    },
    job.log
  )
}
