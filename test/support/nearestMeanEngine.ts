/**
 * A third engine, for tests of the engine seam: a nearest-class-mean classifier (each class is the mean of its
 * normalised training images; an image is of the class whose mean is nearest). It trains in one pass, needs no
 * ML library, and writes and reads the same model and metrics artifacts as the real engines. Its one setting,
 * the precision of the means, reaches it typed through its Schema and enters the key through its identity.
 */
import { Effect, Schema } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { EngineError, type Engine, type TrainFigures } from "../../engines/engine.js"
import { normalizeBatch, type AugmentPolicy } from "../../ml/augment.js"
import { writeEvaluation } from "../../ml/evaluation.js"
import { readImageSet } from "../../ml/imageSet.js"
import { appendTrainingRecord, copyPolicy, MODEL_FILES, readModelConfig, writeModelConfig, writeModelSummary } from "../../ml/modelArtifact.js"

const MeanParams = Schema.Struct({
  precision: Schema.optionalWith(Schema.Literal("float32", "float64").annotations({ description: "float32 or float64" }), { default: () => "float64" as const })
})

const MEANS = "means.bin"

const readPolicy = (dir: string): AugmentPolicy => JSON.parse(readFileSync(join(dir, MODEL_FILES.policy), "utf8")) as AugmentPolicy

const normalized = (policy: AugmentPolicy, images: Uint8Array, count: number): Float32Array => {
  const out = new Float32Array(count * policy.height * policy.width)
  normalizeBatch(policy, images, Uint32Array.from({ length: count }, (_, i) => i), out)
  return out
}

/** Per image: the nearest class and the cross-entropy of a softmax over the negative mean squared distances. */
const classify = (means: Float64Array | Float32Array, classes: number, x: Float32Array, labels: Uint8Array) => {
  const pixels = means.length / classes
  const predictions = new Uint8Array(labels.length)
  let loss = 0
  let correct = 0
  for (let i = 0; i < labels.length; i++) {
    const scores = Array.from({ length: classes }, (_, c) => {
      let d = 0
      for (let p = 0; p < pixels; p++) d += (x[i * pixels + p]! - means[c * pixels + p]!) ** 2
      return -d / pixels
    })
    const best = scores.indexOf(Math.max(...scores))
    const max = scores[best]!
    const logSum = Math.log(scores.reduce((s, v) => s + Math.exp(v - max), 0)) + max
    loss += logSum - scores[labels[i]!]!
    predictions[i] = best
    if (best === labels[i]) correct++
  }
  return { predictions, loss: loss / labels.length, accuracy: correct / labels.length }
}

export const nearestMeanEngine: Engine<typeof MeanParams.fields> = {
  name: "mean",
  params: MeanParams.fields,
  identity: (params) => Effect.succeed({ engine: "mean", version: "1", precision: params.precision }),
  train: async (job) => {
    const t0 = performance.now()
    const data = readImageSet(job.split.dir)
    const train = data.splits["train"]
    const val = data.splits["val"]
    if (!train || !val) throw new EngineError({ message: `${job.split.stage}: the split has no train or val part` })
    const policy = readPolicy(job.policy.dir)
    const classes = data.manifest.classes.length
    const pixels = policy.height * policy.width
    const x = normalized(policy, train.images, train.count)
    const means = job.params.precision === "float32" ? new Float32Array(classes * pixels) : new Float64Array(classes * pixels)
    const counts = new Array<number>(classes).fill(0)
    for (let i = 0; i < train.count; i++) {
      const c = train.labels[i]!
      counts[c]!++
      for (let p = 0; p < pixels; p++) means[c * pixels + p]! += x[i * pixels + p]!
    }
    for (let c = 0; c < classes; c++) for (let p = 0; p < pixels; p++) means[c * pixels + p]! /= Math.max(1, counts[c]!)
    job.progress("means computed")
    const fit = classify(means, classes, x, train.labels)
    const held = classify(means, classes, normalized(policy, val.images, val.count), val.labels)
    writeFileSync(join(job.outDir, MEANS), new Uint8Array(means.buffer))
    copyPolicy(job.policy.dir, job.outDir)
    appendTrainingRecord(job.outDir, { type: "epoch", epoch: 1, step: 1, train_loss: fit.loss, train_acc: fit.accuracy, val_loss: held.loss, val_acc: held.accuracy, lr: 0 })
    writeModelConfig(job.outDir, {
      model: "nearest-mean",
      params: job.training,
      engine: { engine: "mean", version: "1", precision: job.params.precision },
      parameters: means.length,
      classes: data.manifest.classes,
      inputs: { split: job.split.hash, augment: job.policy.hash }
    })
    const seconds = (performance.now() - t0) / 1000
    const figures: TrainFigures = {
      model: "nearest-mean",
      backend: `mean-${job.params.precision}`,
      parameters: means.length,
      epochs: 1,
      train_loss: fit.loss,
      train_accuracy: fit.accuracy,
      val_loss: held.loss,
      val_accuracy: held.accuracy,
      images_per_s: Math.round(train.count / seconds),
      seconds
    }
    const { images_per_s: _i, seconds: _s, ...summary } = figures
    writeModelSummary(job.outDir, summary)
    job.log(`nearest class mean: val accuracy ${(held.accuracy * 100).toFixed(2)}%`)
    return figures
  },
  evaluate: async (job) => {
    const data = readImageSet(job.split.dir)
    const test = data.splits["test"]
    if (!test) throw new EngineError({ message: `${job.split.stage}: the split has no test set` })
    const precision = readModelConfig(job.model.dir).engine["precision"]
    const bytes = readFileSync(join(job.model.dir, MEANS))
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    const means = precision === "float32" ? new Float32Array(buffer) : new Float64Array(buffer)
    const policy = readPolicy(job.model.dir)
    const t0 = performance.now()
    const result = classify(means, data.manifest.classes.length, normalized(policy, test.images, test.count), test.labels)
    const ms = (performance.now() - t0) / test.count
    return writeEvaluation(
      job.outDir,
      {
        model: job.model.hash,
        classes: data.manifest.classes,
        labels: test.labels,
        predictions: result.predictions,
        loss: result.loss,
        parameters: means.length,
        msPerImageBatch: ms,
        msPerImageSingle: ms,
        batchSize: job.evaluation.batch_size,
        tta: job.evaluation.tta,
        backend: `mean-${precision}`
      },
      job.log
    )
  }
}
