/** Running `evaluate` on the TensorFlow.js engine. */
import { Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { EvaluateParams } from "./evaluate.js"
import { StageError, type StageContext, type StageMetrics } from "./kind.js"
import { normalizeBatch, type AugmentPolicy } from "./ml/augment.js"
import { readImageSet } from "./ml/imageSet.js"
import { loadBackend, pickBackend } from "./ml/tfjs/engine.js"
import { loadModel } from "./ml/tfjs/modelFiles.js"
import { trainableParams } from "./ml/tfjs/models.js"

type Tensor = import("@tensorflow/tfjs").Tensor

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Per-class precision and recall, from a confusion matrix indexed [true][predicted]. */
export const perClass = (confusion: ReadonlyArray<ReadonlyArray<number>>) =>
  confusion.map((row, c) => {
    const tp = row[c]!
    const actual = row.reduce((a, b) => a + b, 0)
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0)
    return { precision: predicted ? tp / predicted : 0, recall: actual ? tp / actual : 0, support: actual }
  })

export const run = (ctx: StageContext<unknown, EvaluateParams>) =>
  Effect.tryPromise({
    try: async (signal): Promise<StageMetrics> => {
      const modelIn = ctx.inputs.find((i) => i.slot === "model")!
      const splitIn = ctx.inputs.find((i) => i.slot === "split")!
      const data = readImageSet(splitIn.dir)
      const test = data.splits["test"]
      if (!test) throw new StageError({ message: `${splitIn.stage}: the split has no test set` })
      const trainedOn = (JSON.parse(readFileSync(join(modelIn.dir, "config.json"), "utf8")) as { engine?: { engine?: string } }).engine?.engine ?? "tfjs"
      if (trainedOn !== ctx.params.engine) {
        throw new StageError({
          message: `${modelIn.stage} was trained on the ${trainedOn} engine; evaluate it on the same one (params: { engine: ${trainedOn} })`
        })
      }
      if (ctx.params.engine === "torch") {
        const { evaluateTorch } = await import("./ml/torch/run.js")
        return await evaluateTorch(ctx as never, data.manifest.classes, signal)
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

      const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
      const misclassified: Record<string, Array<number>> = {}
      let correct = 0
      for (let i = 0; i < n; i++) {
        const t = test.labels[i]!
        const p = predictions[i]!
        confusion[t]![p]!++
        if (t === p) correct++
        else (misclassified[`${t}->${p}`] ??= []).push(i)
      }
      const params = trainableParams(model)
      const result = {
        // The model artifact evaluated: how analyze pairs these metrics with their model.
        model: modelIn.hash,
        test_accuracy: correct / n,
        test_loss: lossSum / n,
        test_images: n,
        classes: data.manifest.classes,
        per_class: perClass(confusion).map((c, i) => ({ class: data.manifest.classes[i], ...c })),
        confusion,
        parameters: params,
        ms_per_image_batch: batchTimes.length ? median(batchTimes) : null,
        ms_per_image_single: median(singleTimes),
        batch_size: batch,
        tta: ctx.params.tta,
        ...(tta ? { test_accuracy_without_tta: plainCorrect / n } : {}),
        backend,
        misclassified
      }
      writeFileSync(join(ctx.outDir, "metrics.json"), `${JSON.stringify(result, null, 2)}\n`)
      writeFileSync(join(ctx.outDir, "predictions.u8"), predictions)
      model.dispose()
      ctx.log(`test accuracy ${(result.test_accuracy * 100).toFixed(2)}%, loss ${result.test_loss.toFixed(4)}`)
      return {
        test_accuracy: result.test_accuracy,
        ...(tta ? { test_accuracy_without_tta: plainCorrect / n } : {}),
        test_loss: result.test_loss,
        parameters: params,
        ms_per_image_batch: result.ms_per_image_batch,
        ms_per_image_single: result.ms_per_image_single,
        backend
      }
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `evaluation failed: ${(e as Error).stack ?? String(e)}` }))
  })
