/** Running `train` on the TensorFlow.js engine. */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { StageError, type StageContext, type StageMetrics } from "../pipelines/kind.js"
import type { AugmentPolicy } from "../ml/augment.js"
import { readImageSet } from "../ml/imageSet.js"
import { loadBackend, pickBackend, tfjsVersion } from "../engines/tfjs/engine.js"
import { saveModel } from "../engines/tfjs/modelFiles.js"
import { buildModel, trainableParams } from "../engines/tfjs/models.js"
import { train } from "../engines/tfjs/training.js"
import { withoutTimings } from "../ml/timings.js"
import { appendTrainingRecord, copyPolicy, writeModelConfig, writeModelSummary } from "../ml/modelArtifact.js"
import type { TrainParams } from "./train.js"

const inputOf = (ctx: StageContext<unknown, unknown>, slot: string) => {
  const input = ctx.inputs.find((i) => i.slot === slot)
  if (!input) throw new StageError({ message: `bug: no ${slot} input` })
  return input
}

export const run = (ctx: StageContext<unknown, TrainParams>) =>
  Effect.tryPromise({
    try: async (signal): Promise<StageMetrics> => {
      const { params } = ctx
      if (params.engine === "torch") {
        const { trainTorch } = await import("../engines/torch/run.js")
        return await trainTorch(ctx as never, signal)
      }
      const splitIn = inputOf(ctx, "split")
      const augmentIn = inputOf(ctx, "augment")
      const data = readImageSet(splitIn.dir)
      const train_ = data.splits["train"]
      const val = data.splits["val"]
      if (!train_ || !val) throw new StageError({ message: `${splitIn.stage}: the split has no train or val part` })
      const policy = JSON.parse(readFileSync(join(augmentIn.dir, "policy.json"), "utf8")) as AugmentPolicy
      const backend = pickBackend(params.backend)
      ctx.log(`loading TensorFlow.js on ${backend}`)
      const tf = await loadBackend(backend)
      const model = buildModel(tf, params.model, { ...(params.dropout !== undefined ? { dropout: params.dropout } : {}), seed: params.seed })
      const count = trainableParams(model)
      ctx.log(`${params.model}: ${count.toLocaleString("en")} parameters; ${train_.count} training and ${val.count} validation images`)
      const t0 = performance.now()
      const history = await train(
        tf,
        model,
        { train: train_, val },
        policy,
        {
          epochs: params.epochs,
          batchSize: params.batch_size,
          lr: params.lr,
          weightDecay: params.weight_decay,
          decoupled: params.optimizer === "adamw",
          labelSmoothing: params.label_smoothing,
          schedule: params.schedule,
          warmup: params.warmup,
          seed: params.seed,
          classes: data.manifest.classes.length
        },
        {
          // The artifact's records carry no timings (they would change its hash on every run); the log has them.
          record: (r) => appendTrainingRecord(ctx.outDir, withoutTimings(r)),
          progress: ctx.progress,
          log: ctx.log,
          signal
        }
      )
      const seconds = (performance.now() - t0) / 1000
      await saveModel(tf, model, ctx.outDir)
      copyPolicy(augmentIn.dir, ctx.outDir)
      const last = history.at(-1)!
      const engine = { engine: "tfjs", backend, tfjs: tfjsVersion() ?? "unknown" }
      // The params less those that only say where to run (the engine identity has what actually ran): naming the
      // backend that `auto` picks is the same key, so it must give the same bytes.
      const { backend: _b, device: _d, python: _p, ...keyed } = params
      writeModelConfig(ctx.outDir, {
        model: params.model,
        params: keyed,
        engine,
        parameters: count,
        classes: data.manifest.classes,
        inputs: { split: splitIn.hash, augment: augmentIn.hash }
      })
      const metrics = {
        model: params.model,
        backend,
        parameters: count,
        epochs: params.epochs,
        train_loss: last.train_loss,
        train_accuracy: last.train_acc,
        val_loss: last.val_loss,
        val_accuracy: last.val_acc,
        images_per_s: Math.round(history.reduce((s, h) => s + h.images_per_s, 0) / history.length),
        seconds: Math.round(seconds * 10) / 10
      }
      // The timings stay with the run (its metrics), out of the artifact.
      writeModelSummary(ctx.outDir, withoutTimings(metrics))
      model.dispose()
      return metrics
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `training failed: ${(e as Error).stack ?? String(e)}` }))
  })
