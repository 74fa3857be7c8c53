/**
 * `train` and `evaluate` on the torch engine: the stage stays in charge. It writes a JSON job, starts the
 * worker through the stage's spawn service (its own process group, which dies with the stage and with pipe), reads NDJSON
 * events from its stdout to drive the progress bar and the log, and writes the same artifact files as the
 * tfjs engine (metrics.jsonl, config.json, summary.json, policy.json; metrics.json and predictions.u8), so
 * evaluate, analyze, sweeps and lineage do not care which engine ran. A failed or killed worker fails the
 * stage; nothing it left is recorded.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"
import { StageError, type InputArtifact, type StageContext, type StageMetrics } from "../../pipelines/kind.js"
import { bar, writeEvaluation } from "../../ml/evaluation.js"
import { withoutTimings } from "../../ml/timings.js"
import { torchIdentity, workerPath, type Device, type TorchIdentity } from "./engine.js"

type Event = Record<string, unknown> & { type: string }

/** Runs one worker job; calls `on` for each event; returns the final `done` event. */
export const runWorker = async (
  ctx: StageContext<unknown, unknown>,
  python: string,
  job: Record<string, unknown>,
  on: (e: Event) => void,
  signal?: AbortSignal
): Promise<Event> => {
  const dir = mkdtempSync(join(tmpdir(), "pipe-torch-"))
  try {
    const jobFile = join(dir, "job.json")
    writeFileSync(jobFile, JSON.stringify(job))
    const child = ctx.spawn(python, [workerPath(), jobFile], {
      reject: false,
      stdin: "ignore",
      stderr: ["pipe"],
      ...(signal ? { signal } : {}),
      env: { PYTHONUNBUFFERED: "1" }
    })
    // Both are pipes here (stdout by default, stderr as asked).
    const { stdout, stderr } = child as unknown as { stdout: Readable; stderr: Readable }
    stderr.on("data", (d: Buffer) => appendFileSync(ctx.logFile, d))
    let done: Event | undefined
    let error: string | undefined
    for await (const line of createInterface({ input: stdout })) {
      let e: Event
      try {
        e = JSON.parse(line) as Event
      } catch {
        ctx.log(line)
        continue
      }
      if (e.type === "done") done = e
      else if (e.type === "error") error = String(e["message"])
      else on(e)
    }
    const r = await child
    if (signal?.aborted) throw new StageError({ message: "interrupted" })
    if (r.exitCode === 0 && done) return done
    if (r.exitCode === 3) throw new StageError({ message: `${python} cannot import torch: ${error ?? ""}` })
    throw new StageError({
      message: `the torch worker ${r.signal ? `was killed (${r.signal})` : `failed (exit ${r.exitCode})`}${error ? `: ${error}` : ""}`
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const input = (ctx: StageContext<unknown, unknown>, slot: string): InputArtifact => {
  const i = ctx.inputs.find((x) => x.slot === slot)
  if (!i) throw new StageError({ message: `bug: no ${slot} input` })
  return i
}

interface TorchParams {
  readonly python?: string
  readonly device: Device
}

export const identity = async (p: TorchParams): Promise<TorchIdentity> => {
  try {
    return await torchIdentity(p.python, p.device)
  } catch (e) {
    throw new StageError({ message: (e as Error).message })
  }
}

export const trainTorch = async (
  ctx: StageContext<unknown, TorchParams & Record<string, unknown>>,
  signal: AbortSignal
): Promise<Record<string, number | string>> => {
  const p = ctx.params
  const id = await identity(p)
  const split = input(ctx, "split")
  const augment = input(ctx, "augment")
  const metricsFile = join(ctx.outDir, "metrics.jsonl")
  const history: Array<Event> = []
  let epochs = 0
  ctx.log(`training on torch ${id.torch} (${id.device}${id.cuda ? `, CUDA ${id.cuda}` : ""}) with ${id.python}`)
  const t0 = performance.now()
  const { python: _python, device: _device, backend: _backend, engine: _engine, ...trainParams } = p as Record<string, unknown>
  const done = await runWorker(
    ctx,
    id.python,
    { task: "train", split: split.dir, policy: join(augment.dir, "policy.json"), out: ctx.outDir, device: p.device, params: trainParams },
    (e) => {
      if (e.type === "start") ctx.log(`${String(e["model"])}: ${Number(e["parameters"]).toLocaleString("en")} parameters; ${e["train"]} training and ${e["val"]} validation images`)
      if (e.type === "step") {
        const seen = Number(e["seen"])
        const total = Number(e["total"])
        const status = `epoch ${e["epoch"]}/${trainParams["epochs"]} ${bar(seen / total)} ${Math.round((100 * seen) / total)}% loss ${Number(e["loss"]).toFixed(4)} ${Math.round(Number(e["images_per_s"]))} img/s`
        ctx.progress(status)
        ctx.log(status)
        appendFileSync(metricsFile, `${JSON.stringify({ type: "step", epoch: e["epoch"], step: e["step"], loss: e["loss"], lr: e["lr"] })}\n`)
      }
      if (e.type === "epoch") {
        epochs++
        history.push(e)
        // Timings go to the log and the run's metrics, not into the artifact.
        appendFileSync(metricsFile, `${JSON.stringify(withoutTimings(e))}\n`)
        ctx.log(
          `epoch ${e["epoch"]}/${trainParams["epochs"]}: train loss ${Number(e["train_loss"]).toFixed(4)} acc ${(Number(e["train_acc"]) * 100).toFixed(2)}%, ` +
            `val loss ${Number(e["val_loss"]).toFixed(4)} acc ${(Number(e["val_acc"]) * 100).toFixed(2)}%, ${Math.round(Number(e["images_per_s"]))} img/s, ${Number(e["seconds"]).toFixed(1)} s`
        )
      }
    },
    signal
  )
  if (epochs === 0) throw new StageError({ message: "the torch worker trained no epoch" })
  const seconds = (performance.now() - t0) / 1000
  const last = history.at(-1)!
  const engine = { engine: "torch", torch: id.torch, device: id.device, ...(id.cuda ? { cuda: id.cuda } : {}) }
  copyFileSync(join(augment.dir, "policy.json"), join(ctx.outDir, "policy.json"))
  writeFileSync(
    join(ctx.outDir, "config.json"),
    `${JSON.stringify({ model: trainParams["model"], params: trainParams, engine, parameters: done["parameters"], inputs: { split: split.hash, augment: augment.hash } }, null, 2)}\n`
  )
  const metrics = {
    model: String(trainParams["model"]),
    backend: `torch-${id.device}`,
    parameters: Number(done["parameters"]),
    epochs,
    train_loss: Number(last["train_loss"]),
    train_accuracy: Number(last["train_acc"]),
    val_loss: Number(last["val_loss"]),
    val_accuracy: Number(last["val_acc"]),
    images_per_s: Math.round(history.reduce((s, h) => s + Number(h["images_per_s"]), 0) / history.length),
    seconds: Math.round(seconds * 10) / 10
  }
  writeFileSync(join(ctx.outDir, "summary.json"), `${JSON.stringify(withoutTimings(metrics), null, 2)}\n`)
  return metrics
}

export const evaluateTorch = async (
  ctx: StageContext<unknown, TorchParams & { batch_size: number; timing_runs: number; tta: "none" | "flip" }>,
  classes: ReadonlyArray<string>,
  labels: Uint8Array,
  signal: AbortSignal
): Promise<StageMetrics> => {
  const p = ctx.params
  const id = await identity(p)
  const model = input(ctx, "model")
  const split = input(ctx, "split")
  const done = await runWorker(
    ctx,
    id.python,
    { task: "evaluate", split: split.dir, model: model.dir, out: ctx.outDir, device: p.device, params: { batch_size: p.batch_size, timing_runs: p.timing_runs, tta: p.tta } },
    () => {},
    signal
  )
  return writeEvaluation(
    ctx.outDir,
    {
      model: model.hash,
      classes,
      labels,
      predictions: new Uint8Array(readFileSync(join(ctx.outDir, "predictions.u8"))),
      loss: Number(done["loss"]),
      parameters: Number(done["parameters"]),
      msPerImageBatch: (done["ms_per_image_batch"] as number | null) ?? null,
      msPerImageSingle: Number(done["ms_per_image_single"]),
      batchSize: p.batch_size,
      tta: p.tta,
      plainCorrect: Number(done["plain_correct"]),
      backend: `torch-${id.device}`
    },
    ctx.log
  )
}
