/**
 * The training loop on small generated data: the same seed and backend give the same weights and metrics,
 * the tensor count does not grow across epochs, the schedule is what it says, and a forced backend that is
 * not installed is a clear error.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { POLICY_FORMAT, type AugmentPolicy } from "../../../ml/augment.js"
import { rng } from "../../../ml/rng.js"
import { BackendUnavailable, loadBackend, pickBackend, type Tf } from "../../../engines/tfjs/engine.js"
import { buildModel } from "../../../engines/tfjs/models.js"
import { learningRate, train, type EpochRecord, type Images } from "../../../engines/tfjs/training.js"
import { saveModel } from "../../../engines/tfjs/modelFiles.js"
import { loadWeightsInto, restoreTrainState, saveTrainState } from "../../../engines/tfjs/trainState.js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

let tf: Tf
beforeAll(async () => {
  tf = await loadBackend("cpu")
}, 60_000)

/** Two easy classes of 28x28 images: a bright left half or a bright right half, with noise. */
const images = (count: number, seed: number): Images => {
  const r = rng(seed)
  const imgs = new Uint8Array(count * 784)
  const labels = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const c = r.int(2)
    labels[i] = c
    for (let p = 0; p < 784; p++) {
      const left = p % 28 < 14
      imgs[i * 784 + p] = (left === (c === 0) ? 150 : 0) + r.int(100)
    }
  }
  return { images: imgs, labels, count }
}

const policy: AugmentPolicy = { format: POLICY_FORMAT, height: 28, width: 28, pad: 2, flip: 0, rotate: 0, brightness: 0, mean: 0.5, std: 0.5, seed: 1 }
const options = { epochs: 3, batchSize: 32, lr: 0.003, weightDecay: 1e-4, schedule: "cosine" as const, warmup: 0.5, seed: 5, classes: 10 }

const run = async (seed: number) => {
  const model = buildModel(tf, "mlp", { seed })
  const records: Array<EpochRecord> = []
  const optimizer = tf.train.adam(options.lr)
  await train(tf, model, { train: images(256, 1), val: images(64, 2) }, policy, { ...options, seed }, {
    record: (r) => r.type === "epoch" && records.push(r),
    progress: () => {},
    log: () => {}
  }, optimizer)
  optimizer.dispose()
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()))
  model.dispose()
  return { records, weights }
}

describe("training", () => {
  it("continued from epoch 1 to 3 gives the weights of 3 epochs in one go (cosine over the same horizon, warm-up, dropout), leaving no tensor behind", async () => {
    const quiet = { record: () => {}, progress: () => {}, log: () => {} }
    const data = { train: images(96, 1), val: images(16, 2) }
    // the CNN (batch norm too) is checked through the CLI on wasm (test/e2e/resume.test.ts): on this backend it is slow
    for (const kind of ["mlp"] as const) {
      const o = { ...options, epochs: 3, scheduleEpochs: 3, warmup: 0.5 }
      const build = () => buildModel(tf, kind, { seed: 4, dropout: 0.25 })
      const whole = build()
      const adam = tf.train.adam(o.lr)
      await train(tf, whole, data, policy, o, quiet, adam)
      adam.dispose()
      const first = build()
      const adam1 = tf.train.adam(o.lr)
      await train(tf, first, data, policy, { ...o, epochs: 1 }, quiet, adam1)
      const dir = mkdtempSync(join(tmpdir(), "pipe-resume-"))
      await saveModel(tf, first, dir)
      saveTrainState(first, adam1, 1, dir)
      adam1.dispose()
      first.dispose()
      const rest = build()
      const adam2 = tf.train.adam(o.lr)
      const before = tf.memory().numTensors
      loadWeightsInto(tf, rest, dir)
      expect(await restoreTrainState(tf, rest, adam2, dir, "first")).toBe(1)
      // Adam's two moments per variable, and nothing else
      expect(tf.memory().numTensors - before).toBe(2 * rest.trainableWeights.length)
      const epochs: Array<number> = []
      await train(tf, rest, data, policy, { ...o, startEpoch: 1 }, { ...quiet, record: (r) => r.type === "epoch" && epochs.push(r.epoch) }, adam2)
      adam2.dispose()
      expect(epochs).toEqual([2, 3])
      const w = (m: typeof whole) => m.getWeights().map((t) => Array.from(t.dataSync()))
      expect(w(rest)).toEqual(w(whole))
      rmSync(dir, { recursive: true })
      whole.dispose()
      rest.dispose()
    }
  }, 120_000)

  it("learns, and the same seed on the same backend gives the same weights and metrics", async () => {
    const a = await run(5)
    const b = await run(5)
    expect(a.records.at(-1)!.val_acc).toBeGreaterThan(0.9)
    expect(b.weights).toEqual(a.weights)
    expect(b.records.map(({ seconds: _s, images_per_s: _i, ...r }) => r)).toEqual(a.records.map(({ seconds: _s, images_per_s: _i, ...r }) => r))
    const c = await run(6)
    expect(c.weights).not.toEqual(a.weights)
  }, 120_000)

  it("keeps the tensor count flat across epochs", async () => {
    const { records } = await run(5)
    const counts = records.map((r) => r.tensors)
    expect(new Set(counts).size).toBe(1)
  }, 60_000)

  it("adamw shrinks the kernels by lr * weight_decay per step, and leaves the biases to Adam", async () => {
    // One step on one batch from the same weights: AdamW's weights are Adam's (without decay) minus
    // lr * decay * the starting kernels; the biases (not decayed) are the same.
    const step = async (decay: number, decoupled: boolean) => {
      const model = buildModel(tf, "mlp", { seed: 3 })
      const start = model.getWeights().map((w) => Float32Array.from(w.dataSync()))
      const o = { ...options, epochs: 1, batchSize: 64, lr: 0.01, schedule: "constant" as const, warmup: 0, weightDecay: decay, decoupled }
      const optimizer = tf.train.adam(o.lr)
      await train(tf, model, { train: images(64, 1), val: images(8, 2) }, policy, o, { record: () => {}, progress: () => {}, log: () => {} }, optimizer)
      optimizer.dispose()
      const end = model.getWeights().map((w) => Float32Array.from(w.dataSync()))
      const names = model.weights.map((w) => w.name)
      model.dispose()
      return { start, end, names }
    }
    const adam = await step(0, false)
    const adamw = await step(0.5, true)
    const l2 = await step(0.5, false)
    expect(adamw.names.filter((n) => n.includes("kernel"))).toHaveLength(2)
    adamw.names.forEach((name, i) => {
      const w0 = adam.start[i]!
      for (let j = 0; j < w0.length; j += 97) {
        const expected = name.includes("kernel") ? adam.end[i]![j]! - 0.01 * 0.5 * w0[j]! : adam.end[i]![j]!
        expect(adamw.end[i]![j]!).toBeCloseTo(expected, 5)
      }
    })
    // L2 in the loss is another update: after Adam's normalisation it is not a plain shrink
    expect(l2.end[0]).not.toEqual(adamw.end[0])
  }, 60_000)

  it("anneals the learning rate with a cosine after a linear warm-up", () => {
    const o = { ...options, epochs: 10, warmup: 1, lr: 0.01 }
    expect(learningRate(o, 0, 100)).toBeCloseTo(0.0001, 8)
    expect(learningRate(o, 99, 100)).toBeCloseTo(0.01, 8)
    expect(learningRate(o, 100, 100)).toBeCloseTo(0.01, 8)
    expect(learningRate(o, 550, 100)).toBeCloseTo(0.005, 8)
    expect(learningRate(o, 999, 100)).toBeLessThan(1e-5)
    expect(learningRate({ ...o, schedule: "constant", warmup: 0 }, 700, 100)).toBe(0.01)
  })

  it("names a forced backend that is not installed", () => {
    expect(() => pickBackend("tensorflow-gpu")).toThrow(BackendUnavailable)
    expect(() => pickBackend("tensorflow-gpu")).toThrow(
      "backend tensorflow-gpu is not available: @tensorflow/tfjs-node-gpu is not installed (npm install @tensorflow/tfjs-node-gpu on a machine that can download libtensorflow); available here: wasm, cpu"
    )
    expect(pickBackend("auto")).toBe("wasm")
  })
})
