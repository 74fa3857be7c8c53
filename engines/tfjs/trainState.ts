/**
 * What a tfjs training needs to continue exactly where it stopped, beside the weights: Adam's moments (in the
 * order of the model's trainable variables), its bias-correction products as they were accumulated (Adam's
 * setWeights would recompute them with pow, which can differ in the last bit), and each seeded dropout layer's
 * call count. Written only by trainings that declare schedule_epochs: train-state.json and train-state.bin.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { EngineError } from "../engine.js"
import type { Tf } from "./engine.js"
import { SEEDED_DROPOUT } from "./seededDropout.js"

type LayersModel = ReturnType<Tf["model"]>
type Optimizer = ReturnType<Tf["train"]["adam"]>
type Variable = import("@tensorflow/tfjs").Variable

export const TRAIN_STATE = { json: "train-state.json", bin: "train-state.bin" } as const

interface AdamInternals {
  accBeta1: Variable
  accBeta2: Variable
  accumulatedFirstMoment: Array<{ originalName: string; variable: Variable }>
  accumulatedSecondMoment: Array<{ originalName: string; variable: Variable }>
  iterations: number
}

interface StateFile {
  readonly format: 1
  readonly epochs: number
  readonly iterations: number
  readonly accBeta1: number
  readonly accBeta2: number
  readonly dropoutCalls: ReadonlyArray<number>
  /** Shapes of the first moments, then of the second (float32, in that order in train-state.bin). */
  readonly moments: ReadonlyArray<ReadonlyArray<number>>
}

const dropouts = (model: LayersModel) => model.layers.filter((l) => l.getClassName() === SEEDED_DROPOUT) as unknown as Array<{ calls: number }>

export const saveTrainState = (model: LayersModel, optimizer: Optimizer, epochs: number, dir: string): void => {
  const adam = optimizer as unknown as AdamInternals
  const moments = [...adam.accumulatedFirstMoment, ...adam.accumulatedSecondMoment].map((m) => m.variable)
  const state: StateFile = {
    format: 1,
    epochs,
    iterations: adam.iterations,
    accBeta1: adam.accBeta1.dataSync()[0]!,
    accBeta2: adam.accBeta2.dataSync()[0]!,
    dropoutCalls: dropouts(model).map((d) => d.calls),
    moments: moments.map((m) => m.shape)
  }
  writeFileSync(join(dir, TRAIN_STATE.bin), Buffer.concat(moments.map((m) => Buffer.from((m.dataSync() as Float32Array).buffer.slice(0))))) 
  writeFileSync(join(dir, TRAIN_STATE.json), `${JSON.stringify(state)}\n`)
}

/** Puts a saved state into a freshly built model's optimizer and dropout layers; the epochs it had trained. */
export const restoreTrainState = async (tf: Tf, model: LayersModel, optimizer: Optimizer, dir: string, stage: string): Promise<number> => {
  if (!existsSync(join(dir, TRAIN_STATE.json))) {
    throw new EngineError({ message: `${stage} kept no training state to continue from (only a training with schedule_epochs keeps it)` })
  }
  const state = JSON.parse(readFileSync(join(dir, TRAIN_STATE.json), "utf8")) as StateFile
  const bin = readFileSync(join(dir, TRAIN_STATE.bin))
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength))
  const tensors: Array<{ name: string; tensor: import("@tensorflow/tfjs").Tensor }> = []
  let at = 0
  for (const [i, shape] of state.moments.entries()) {
    const size = shape.reduce((a, b) => a * b, 1)
    tensors.push({ name: `moment${i}`, tensor: tf.tensor(floats.subarray(at, at + size), [...shape], "float32") })
    at += size
  }
  if (at !== floats.length) throw new EngineError({ message: `${stage}: ${TRAIN_STATE.bin} does not match ${TRAIN_STATE.json}` })
  const iterations = tf.scalar(state.iterations, "int32")
  await optimizer.setWeights([{ name: "iter", tensor: iterations }, ...tensors])
  for (const t of [iterations, ...tensors.map((t) => t.tensor)]) t.dispose()
  const adam = optimizer as unknown as AdamInternals
  // Nothing is left behind: the tensor count is part of the training's records.
  tf.tidy(() => {
    adam.accBeta1.assign(tf.scalar(state.accBeta1))
    adam.accBeta2.assign(tf.scalar(state.accBeta2))
  })
  const layers = dropouts(model)
  if (layers.length !== state.dropoutCalls.length) throw new EngineError({ message: `${stage}: its training state is for another model` })
  for (const [i, d] of layers.entries()) d.calls = state.dropoutCalls[i]!
  return state.epochs
}

/** The weights of a saved model (model.json + weights.bin) into `model`, a freshly built one of the same kind, by position. */
export const loadWeightsInto = (tf: Tf, model: LayersModel, dir: string): void => {
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as { weightsManifest: Array<{ weights: Array<{ name: string; shape: Array<number>; dtype: "float32" }> }> }
  const specs = json.weightsManifest[0]!.weights
  const bin = readFileSync(join(dir, "weights.bin"))
  const named = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), specs)
  const values = specs.map((s) => named[s.name]!)
  if (values.length !== model.weights.length) throw new EngineError({ message: `${dir}: the saved weights are not this model's` })
  model.setWeights(values)
  for (const v of values) v.dispose()
}
