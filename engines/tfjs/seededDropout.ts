/**
 * Dropout that is reproducible: the mask of the k-th training call is drawn from seed (base, k), so the same
 * seed gives the same sequence of masks and a different mask at every step. TensorFlow.js's own dropout layer
 * either draws unseeded masks or, given a seed, the same mask at every call.
 *
 * The layer is registered under its class name so that saved models load again; inference is the identity.
 */
import type { Tf } from "./engine.js"

type Tensor = ReturnType<Tf["tensor"]>

export const SEEDED_DROPOUT = "SeededDropout"

interface Config {
  readonly rate: number
  readonly seed: number
  readonly name?: string
}

const classes = new WeakMap<Tf, new (config: Config) => unknown>()

/** The layer class for this TensorFlow.js instance, defined and registered once. */
export const seededDropoutClass = (tf: Tf): new (config: Config) => unknown => {
  const known = classes.get(tf)
  if (known) return known
  class SeededDropout extends tf.layers.Layer {
    static className = SEEDED_DROPOUT
    readonly rate: number
    readonly seed: number
    /** Training calls so far: a training that continues another starts from the count it ended with. */
    calls = 0
    constructor(config: Config) {
      super(config.name === undefined ? {} : { name: config.name })
      this.rate = config.rate
      this.seed = config.seed
    }
    override call(inputs: Tensor | Array<Tensor>, kwargs: { training?: boolean }): Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs
      if (!kwargs["training"] || this.rate === 0) return tf.clone(x)
      // 2^20 calls per seed before two seeds could share a mask: more steps than any run here takes.
      const seed = this.seed * 1048576 + ++this.calls
      return tf.dropout(x, this.rate, undefined, seed)
    }
    override getConfig() {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed }
    }
  }
  tf.serialization.registerClass(SeededDropout)
  classes.set(tf, SeededDropout as never)
  return SeededDropout as never
}

/** A dropout layer whose masks follow `seed`. */
export const seededDropout = (tf: Tf, config: Config) =>
  new (seededDropoutClass(tf))(config) as ReturnType<Tf["layers"]["dropout"]>
