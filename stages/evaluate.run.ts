/** Running `evaluate` on the TensorFlow.js engine. */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { EvaluateParams } from "./evaluate.js"
import { StageError, type StageContext, type StageMetrics } from "../pipelines/kind.js"
import { normalizeBatch, type AugmentPolicy } from "../ml/augment.js"
import { writeEvaluation } from "../ml/evaluation.js"
import { readImageSet } from "../ml/imageSet.js"
import { readModelConfig } from "../ml/modelArtifact.js"
import { loadBackend, pickBackend } from "../engines/tfjs/engine.js"
import { loadModel } from "../engines/tfjs/modelFiles.js"
import { trainableParams } from "../engines/tfjs/models.js"

type Tensor = import("@tensorflow/tfjs").Tensor

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const run = (ctx: StageContext<unknown, EvaluateParams>) =>
  Effect.tryPromise({
    try: async (signal): Promise<StageMetrics> => {
      const modelIn = ctx.inputs.find((i) => i.slot === "model")!
      const splitIn = ctx.inputs.find((i) => i.slot === "split")!
      const data = readImageSet(splitIn.dir)
      const test = data.splits["test"]
      if (!test) throw new StageError({ message: `${splitIn.stage}: the split has no test set` })
      const trainedOn = readModelConfig(modelIn.dir).engine.engine
      if (trainedOn !== ctx.params.engine) {
        throw new StageError({
          message: `${modelIn.stage} was trained on the ${trainedOn} engine; evaluate it on the same one (params: { engine: ${trainedOn} })`
        })
      }
      if (ctx.params.engine === "torch") {
        const { evaluateTorch } = await import("../engines/torch/run.js")
        return await evaluateTorch(ctx as never, data.manifest.classes, test.labels, signal)
      }
      const classes = data.manifest.classes.length
      const policy = JSON.parse(readFileSync(join(modelIn.dir, "policy.json"), "utf8")) as AugmentPolicy
      const backend = pickBackend(ctx.params.backend)
      const tf = await loadBackend(backend)
      const model = await loadModel(tf, modelIn.dir)
      const pixels = policy.height * policy.width
      const n = test.count
      const all = new Float32Array(n * pixels)
      normalizeBatch(policy, test.images, Uint32Array.from({ length: n }, (_, i) => i), all)

      // The model's class scores for a batch: logits, or with flip TTA the log of the mean probability of the
      // image and its mirror image (the loss below is cross-entropy on either).
      const tta = ctx.params.tta === "flip"
      const withTta = (x: Tensor, logits: Tensor): Tensor =>
        tta ? tf.log(tf.div(tf.add(tf.softmax(logits), tf.softmax(model.predict(tf.reverse(x, 2)) as Tensor)), 2)) : logits
      const scores = (x: Tensor): Tensor => withTta(x, model.predict(x) as Tensor)
      const predictions = new Uint8Array(n)
      // With TTA, also how the plain predictions would have scored, so the gain is visible.
      let plainCorrect = 0
      let lossSum = 0
      const batch = ctx.params.batch_size
      const batchTimes: Array<number> = []
      for (let start = 0; start < n; start += batch) {
        const m = Math.min(batch, n - start)
        const t0 = performance.now()
        tf.tidy(() => {
          const x = tf.tensor4d(all.subarray(start * pixels, (start + m) * pixels), [m, policy.height, policy.width, 1])
          const plain = model.predict(x) as Tensor
          const logits = withTta(x, plain)
          predictions.set(tf.argMax(logits, 1).dataSync() as Int32Array, start)
          if (tta) {
            const p = tf.argMax(plain, 1).dataSync()
            for (let i = 0; i < m; i++) if (p[i] === test.labels[start + i]) plainCorrect++
          }
          const labels = tf.oneHot(tf.tensor1d(Int32Array.from(test.labels.subarray(start, start + m)), "int32"), classes)
          lossSum += tf.losses.softmaxCrossEntropy(labels, logits).dataSync()[0]! * m
        })
        if (m === batch) batchTimes.push((performance.now() - t0) / m)
      }
      const singleTimes: Array<number> = []
      for (let i = 0; i < ctx.params.timing_runs; i++) {
        const k = i % n
        const t0 = performance.now()
        tf.tidy(() => {
          ;scores(tf.tensor4d(all.subarray(k * pixels, (k + 1) * pixels), [1, policy.height, policy.width, 1])).dataSync()
        })
        singleTimes.push(performance.now() - t0)
      }

      const parameters = trainableParams(model)
      model.dispose()
      return writeEvaluation(
        ctx.outDir,
        {
          model: modelIn.hash,
          classes: data.manifest.classes,
          labels: test.labels,
          predictions,
          loss: lossSum / n,
          parameters,
          msPerImageBatch: batchTimes.length ? median(batchTimes) : null,
          msPerImageSingle: median(singleTimes),
          batchSize: batch,
          tta: ctx.params.tta,
          ...(tta ? { plainCorrect } : {}),
          backend
        },
        ctx.log
      )
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `evaluation failed: ${(e as Error).stack ?? String(e)}` }))
  })
