/**
 * The training loop: per epoch, a seeded shuffle and the augmentation policy's seeded draws, Adam with a
 * cosine-annealed (optionally warmed-up) or constant learning rate and optional L2 weight decay, then
 * validation. Every step runs in tf.tidy, so the tensor count is the same after every epoch.
 */
import { augmentBatch, epochRng, normalizeBatch, type AugmentPolicy } from "../../ml/augment.js"
import { rng, shuffle } from "../../ml/rng.js"
import { bar } from "../../ml/evaluation.js"
import type { Tf } from "./engine.js"

type Tensor = import("@tensorflow/tfjs").Tensor
type LayersModel = ReturnType<Tf["model"]>

export interface TrainOptions {
  /** The epoch the training ends after (counted from the very first, when it continues another). */
  readonly epochs: number
  /** The schedule's horizon in epochs (default: epochs). */
  readonly scheduleEpochs?: number
  /** Epochs already trained (a training that continues another starts after them). */
  readonly startEpoch?: number
  readonly batchSize: number
  readonly lr: number
  readonly weightDecay: number
  /** AdamW: the weight decay shrinks the kernels by lr * weightDecay each step instead of adding L2 to the loss. */
  readonly decoupled?: boolean
  readonly labelSmoothing?: number
  readonly schedule: "cosine" | "constant"
  /** Epochs of linear warm-up before the schedule (may be fractional). */
  readonly warmup: number
  readonly seed: number
  readonly classes: number
}

export interface Images {
  readonly images: Uint8Array
  readonly labels: Uint8Array
  readonly count: number
}

export interface StepRecord {
  readonly type: "step"
  readonly epoch: number
  readonly step: number
  readonly loss: number
  readonly lr: number
}

export interface EpochRecord {
  readonly type: "epoch"
  readonly epoch: number
  readonly step: number
  readonly train_loss: number
  readonly train_acc: number
  readonly val_loss: number
  readonly val_acc: number
  readonly lr: number
  readonly images_per_s: number
  readonly seconds: number
  readonly tensors: number
}

export interface TrainIo {
  readonly record: (r: StepRecord | EpochRecord) => void
  readonly progress: (line: string) => void
  readonly log: (line: string) => void
  /** Aborted when the stage is interrupted (Ctrl-C): training stops at the next step. */
  readonly signal?: AbortSignal
}

/** Training steps are synchronous: let signals and timers run between them, a few times a second. */
const breather = () => {
  let last = performance.now()
  return async (signal: AbortSignal | undefined) => {
    if (performance.now() - last < 200) return
    await new Promise((resolve) => setImmediate(resolve))
    last = performance.now()
    if (signal?.aborted) throw new Error("interrupted")
  }
}

export const learningRate = (o: TrainOptions, step: number, stepsPerEpoch: number): number => {
  const total = (o.scheduleEpochs ?? o.epochs) * stepsPerEpoch
  const warm = Math.round(o.warmup * stepsPerEpoch)
  if (step < warm) return (o.lr * (step + 1)) / warm
  if (o.schedule === "constant") return o.lr
  const t = (step - warm) / Math.max(1, total - warm)
  return o.lr * 0.5 * (1 + Math.cos(Math.PI * t))
}


/** Loss and accuracy of the model on a set, in evaluation mode. */
export const evaluateSet = (tf: Tf, model: LayersModel, policy: AugmentPolicy, set: Images, classes: number, batch = 1000) => {
  const pixels = policy.height * policy.width
  let loss = 0
  let correct = 0
  const buf = new Float32Array(batch * pixels)
  for (let start = 0; start < set.count; start += batch) {
    const n = Math.min(batch, set.count - start)
    const order = Uint32Array.from({ length: n }, (_, i) => start + i)
    normalizeBatch(policy, set.images, order, buf)
    tf.tidy(() => {
      const x = tf.tensor4d(buf.subarray(0, n * pixels), [n, policy.height, policy.width, 1])
      const labels = tf.tensor1d(Int32Array.from(set.labels.subarray(start, start + n)), "int32")
      const logits = model.predict(x) as Tensor
      loss += tf.mul(tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits), n).dataSync()[0]!
      correct += tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "int32")).dataSync()[0]!
    })
  }
  return { loss: loss / set.count, accuracy: correct / set.count }
}

export const train = async (
  tf: Tf,
  model: LayersModel,
  data: { readonly train: Images; readonly val: Images },
  policy: AugmentPolicy,
  o: TrainOptions,
  io: TrainIo,
  /** Adam with o.lr (restored, when the training continues another); the caller disposes it. */
  optimizer: ReturnType<Tf["train"]["adam"]>
): Promise<ReadonlyArray<EpochRecord>> => {
  const { train: set } = data
  const pixels = policy.height * policy.width
  const stepsPerEpoch = Math.ceil(set.count / o.batchSize)
  const logEvery = Math.max(1, Math.floor(stepsPerEpoch / 10))
  const kernels = model.trainableWeights.filter((w) => w.name.includes("kernel")).map((w) => w.read())
  const buf = new Float32Array(o.batchSize * pixels)
  const history: Array<EpochRecord> = []
  const start = o.startEpoch ?? 0
  let step = start * stepsPerEpoch
  const pause = breather()
  for (let epoch = start + 1; epoch <= o.epochs; epoch++) {
    const t0 = performance.now()
    const order = shuffle(Uint32Array.from({ length: set.count }, (_, i) => i), rng(o.seed, epoch))
    const draws = epochRng(policy, epoch)
    let lossSum = 0
    let correct = 0
    let lr = o.lr
    for (let b = 0; b < stepsPerEpoch; b++, step++) {
      await pause(io.signal)
      const idx = order.subarray(b * o.batchSize, Math.min(set.count, (b + 1) * o.batchSize))
      const n = idx.length
      augmentBatch(policy, set.images, idx, buf, draws)
      lr = learningRate(o, step, stepsPerEpoch)
      ;(optimizer as unknown as { learningRate: number }).learningRate = lr
      let loss = 0
      let right = 0
      tf.tidy(() => {
        const x = tf.tensor4d(buf.subarray(0, n * pixels), [n, policy.height, policy.width, 1])
        const labels = tf.tensor1d(Int32Array.from(idx, (i) => set.labels[i]!), "int32")
        const y = tf.oneHot(labels, o.classes)
        let hits: Tensor | undefined
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.apply(x, { training: true }) as Tensor
          hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "int32")))
          const ce = tf.losses.softmaxCrossEntropy(y, logits, undefined, o.labelSmoothing ?? 0) as import("@tensorflow/tfjs").Scalar
          if (o.weightDecay === 0 || o.decoupled) return ce
          return tf.add(ce, tf.mul(o.weightDecay / 2, tf.addN(kernels.map((k) => tf.sum(tf.square(k)))))) as typeof ce
        })
        if (o.decoupled && o.weightDecay > 0) for (const k of kernels) (k as import("@tensorflow/tfjs").Variable).assign(tf.mul(k, 1 - lr * o.weightDecay))
        optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0])
        loss = value.dataSync()[0]!
        right = hits!.dataSync()[0]!
        hits!.dispose()
      })
      lossSum += loss * n
      correct += right
      const seen = Math.min(set.count, (b + 1) * o.batchSize)
      const rate = seen / ((performance.now() - t0) / 1000)
      const status = `epoch ${epoch}/${o.epochs} ${bar(seen / set.count)} ${Math.round((100 * seen) / set.count)}% loss ${(lossSum / seen).toFixed(4)} ${Math.round(rate)} img/s`
      io.progress(status)
      if ((b + 1) % logEvery === 0 || b === stepsPerEpoch - 1) {
        io.record({ type: "step", epoch, step: step + 1, loss, lr })
        io.log(status)
      }
    }
    const trainSeconds = (performance.now() - t0) / 1000
    const val = evaluateSet(tf, model, policy, data.val, o.classes)
    const rec: EpochRecord = {
      type: "epoch",
      epoch,
      step,
      train_loss: lossSum / set.count,
      train_acc: correct / set.count,
      val_loss: val.loss,
      val_acc: val.accuracy,
      lr,
      images_per_s: set.count / trainSeconds,
      seconds: (performance.now() - t0) / 1000,
      tensors: tf.memory().numTensors
    }
    history.push(rec)
    io.record(rec)
    io.log(
      `epoch ${epoch}/${o.epochs}: train loss ${rec.train_loss.toFixed(4)} acc ${(rec.train_acc * 100).toFixed(2)}%, ` +
        `val loss ${rec.val_loss.toFixed(4)} acc ${(rec.val_acc * 100).toFixed(2)}%, ${Math.round(rec.images_per_s)} img/s, ${rec.seconds.toFixed(1)} s`
    )
  }
  return history
}
