/**
 * The seed's models in TensorFlow.js layers, for 28x28x1 inputs and 10 classes:
 * - mlp: flatten, dense 128 + ReLU, dense 10 (784-128-10);
 * - cnn: a small CNN for CPU runs: conv 32 -> BN -> ReLU -> max-pool, conv 64 -> BN -> ReLU -> max-pool,
 *   dense 128 + ReLU, dense 10;
 * - resnet18 / resnet34: 3x3 stride-1 stem (64 channels, no bias) + BN + ReLU, no max-pool; BasicBlocks
 *   (two 3x3 convs with BN; identity shortcut, or 1x1 stride-s conv + BN when the shape changes) in four
 *   stages of 64/128/256/512 channels (2-2-2-2 or 3-4-6-3 blocks, stages 2-4 start with stride 2); global
 *   average pool, dropout, dense 10.
 * Every model can have dropout before its last layer (DEFAULT_DROPOUT in ../params.ts: only the ResNets by default), seeded so
 * that runs are reproducible (seededDropout.ts). The last layer outputs logits; the loss applies softmax.
 */
import { DEFAULT_DROPOUT, type ModelName } from "../params.js"
import type { Tf } from "./engine.js"
import { seededDropout } from "./seededDropout.js"

export type { ModelName }

type Layers = Tf["layers"]
type SymbolicTensor = ReturnType<Tf["input"]>

export interface ModelOptions {
  readonly dropout?: number
  readonly seed?: number
}

const basicBlock = (
  L: Layers,
  x: SymbolicTensor,
  filters: number,
  stride: number,
  init: (i: number) => object,
  named: (kind: string) => { name: string }
): SymbolicTensor => {
  const conv = (k: number, s: number, f: number) =>
    L.conv2d({ filters: f, kernelSize: k, strides: s, padding: "same", useBias: false, ...init(0), ...named("conv2d") })
  const bn = () => L.batchNormalization({ momentum: 0.9, epsilon: 1e-5, ...named("batch_norm") })
  let y = conv(3, stride, filters).apply(x) as SymbolicTensor
  y = bn().apply(y) as SymbolicTensor
  y = L.reLU(named("re_lu")).apply(y) as SymbolicTensor
  y = conv(3, 1, filters).apply(y) as SymbolicTensor
  y = bn().apply(y) as SymbolicTensor
  const inChannels = x.shape[x.shape.length - 1]
  let shortcut = x
  if (stride !== 1 || inChannels !== filters) {
    shortcut = conv(1, stride, filters).apply(x) as SymbolicTensor
    shortcut = bn().apply(shortcut) as SymbolicTensor
  }
  return L.reLU(named("re_lu")).apply(L.add(named("add")).apply([y, shortcut] as never) as SymbolicTensor) as SymbolicTensor
}

export const buildModel = (tf: Tf, name: ModelName, opts: ModelOptions = {}) => {
  const L = tf.layers
  const seed = opts.seed ?? 0
  // Every layer gets its own seeded initialiser: the same seed builds the same weights. Layer seeds start at 1:
  // TensorFlow.js reads a seed of 0 as "no seed".
  let layerSeed = seed * 1000 + 1
  const init = () => ({
    kernelInitializer: tf.initializers.heNormal({ seed: layerSeed++ }),
    biasInitializer: "zeros" as const
  })
  // Every layer is named by its place in the model. TensorFlow.js would otherwise number layers across the
  // process (dense_Dense1, then dense_Dense3 for the next model built), and model.json, so the model artifact's
  // hash, would depend on what else the process trained before.
  const counts = new Map<string, number>()
  const named = (kind: string) => {
    const n = (counts.get(kind) ?? 0) + 1
    counts.set(kind, n)
    return { name: `${kind}_${n}` }
  }
  const input = tf.input({ shape: [28, 28, 1], ...named("input") })
  let x: SymbolicTensor = input
  const apply = (layer: { apply: (x: never) => unknown }) => (x = layer.apply(x as never) as SymbolicTensor)
  const dropout = (rate = opts.dropout ?? DEFAULT_DROPOUT[name]) => {
    if (rate > 0) apply(seededDropout(tf, { rate, seed: layerSeed++, ...named("dropout") }))
  }
  switch (name) {
    case "mlp":
      apply(L.flatten(named("flatten")))
      apply(L.dense({ units: 128, activation: "relu", ...init(), ...named("dense") }))
      dropout()
      break
    case "cnn":
      for (const filters of [32, 64]) {
        apply(L.conv2d({ filters, kernelSize: 3, padding: "same", useBias: false, ...init(), ...named("conv2d") }))
        apply(L.batchNormalization({ momentum: 0.9, epsilon: 1e-5, ...named("batch_norm") }))
        apply(L.reLU(named("re_lu")))
        apply(L.maxPooling2d({ poolSize: 2, ...named("max_pool") }))
      }
      apply(L.flatten(named("flatten")))
      apply(L.dense({ units: 128, activation: "relu", ...init(), ...named("dense") }))
      dropout()
      break
    case "resnet18":
    case "resnet34": {
      const blocks = name === "resnet18" ? [2, 2, 2, 2] : [3, 4, 6, 3]
      apply(L.conv2d({ filters: 64, kernelSize: 3, strides: 1, padding: "same", useBias: false, ...init(), ...named("conv2d") }))
      apply(L.batchNormalization({ momentum: 0.9, epsilon: 1e-5, ...named("batch_norm") }))
      apply(L.reLU(named("re_lu")))
      ;[64, 128, 256, 512].forEach((filters, stage) => {
        for (let b = 0; b < blocks[stage]!; b++) x = basicBlock(L, x, filters, stage > 0 && b === 0 ? 2 : 1, init, named)
      })
      apply(L.globalAveragePooling2d(named("global_avg_pool")))
      dropout()
      break
    }
  }
  apply(L.dense({ units: 10, ...init(), ...named("dense") }))
  return tf.model({ inputs: input, outputs: x as never, name })
}

/** Trainable parameters, as PyTorch counts them (batch-norm running statistics are not parameters). */
export const trainableParams = (model: { trainableWeights: ReadonlyArray<{ shape: ReadonlyArray<number | null> }> }): number =>
  model.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0)
