/**
 * pipe's wasm training kernels against TensorFlow.js's reference cpu backend: the same gradients, for the
 * convolution shapes the models use (3x3 same, strided, 1x1 projections, valid padding, odd sizes).
 */
import { beforeAll, describe, expect, it } from "vitest"
import { loadBackend, type Tf } from "../../../engines/tfjs/engine.js"

let tf: Tf
beforeAll(async () => {
  tf = await loadBackend("wasm")
}, 60_000)

interface Case {
  readonly name: string
  readonly x: [number, number, number, number]
  readonly f: [number, number, number, number]
  readonly stride: number
  readonly pad: "same" | "valid"
}

const cases: Array<Case> = [
  { name: "3x3 same stride 1", x: [4, 8, 8, 3], f: [3, 3, 3, 5], stride: 1, pad: "same" },
  { name: "3x3 same stride 2", x: [2, 28, 28, 4], f: [3, 3, 4, 6], stride: 2, pad: "same" },
  { name: "3x3 same stride 2, odd size", x: [3, 7, 7, 2], f: [3, 3, 2, 4], stride: 2, pad: "same" },
  { name: "1x1 stride 2 projection", x: [2, 14, 14, 8], f: [1, 1, 8, 16], stride: 2, pad: "same" },
  { name: "5x5 valid stride 1", x: [2, 12, 10, 3], f: [5, 5, 3, 2], stride: 1, pad: "valid" },
  { name: "3x3 valid stride 2", x: [2, 11, 11, 3], f: [3, 3, 3, 4], stride: 2, pad: "valid" }
]

/** Gradients of sum(conv2d(x, w) * r) with respect to x and w, on a backend. */
const grads = async (backend: "cpu" | "wasm", c: Case) => {
  await tf.setBackend(backend)
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.37)), c.x)
    const w = tf.tensor4d(Float32Array.from({ length: c.f.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * 0.11)), c.f)
    const y = tf.conv2d(x, w, c.stride, c.pad)
    const r = tf.tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i * 0.53 + 1)), y.shape)
    const f = (a: typeof x, b: typeof w) => tf.sum(tf.mul(tf.conv2d(a, b, c.stride, c.pad), r))
    const [dx, dw] = tf.grads(f as never)([x, w])
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array, dxShape: dx!.shape, dwShape: dw!.shape }
  })
}

const maxRelError = (a: Float32Array, b: Float32Array) => {
  let scale = 0
  let err = 0
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!))
    err = Math.max(err, Math.abs(a[i]! - b[i]!))
  }
  return err / scale
}

describe("wasm training kernels match the cpu backend", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const ref = await grads("cpu", c)
      const got = await grads("wasm", c)
      expect(got.dwShape).toEqual(ref.dwShape)
      expect(got.dxShape).toEqual(ref.dxShape)
      expect(maxRelError(got.dw, ref.dw)).toBeLessThan(1e-4)
      expect(maxRelError(got.dx, ref.dx)).toBeLessThan(1e-4)
    })
  }

  it("do not leak tensors", async () => {
    await tf.setBackend("wasm")
    await grads("wasm", cases[1]!)
    const before = tf.memory().numTensors
    await grads("wasm", cases[1]!)
    expect(tf.memory().numTensors).toBe(before)
  })
})

/** Runs f on both backends and compares every output. */
const both = async (f: () => Array<import("@tensorflow/tfjs").Tensor>) => {
  const run = async (backend: "cpu" | "wasm") => {
    await tf.setBackend(backend)
    return tf.tidy(() => f()).map((t) => {
      const out = { shape: t.shape, values: t.dataSync() as Float32Array }
      t.dispose()
      return out
    })
  }
  const ref = await run("cpu")
  const got = await run("wasm")
  got.forEach((g, i) => {
    expect(g.shape).toEqual(ref[i]!.shape)
    expect(maxRelError(g.values, ref[i]!.values)).toBeLessThan(1e-4)
  })
}

const data = (shape: Array<number>, k = 0.37) =>
  tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * k + shape.length)), shape)

describe("the other wasm training paths match the cpu backend", () => {
  it("max-pool gradient (2x2 stride 2, and 3x3 stride 2 same)", async () => {
    await both(() => {
      const x = data([2, 8, 8, 3])
      const r = data([2, 4, 4, 3], 0.91)
      const g1 = tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as never, 2, 2, "valid"), r)))(x)
      const r2 = data([2, 4, 4, 3], 0.13)
      const g2 = tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as never, 3, 2, "same"), r2)))(x)
      return [g1, g2]
    })
  })

  it("max-pool gradient when allocating its output grows the wasm memory", async () => {
    // The output is as large as the input: make the input about the size of the whole heap, so that allocating
    // the output must grow it (which detaches every view of the heap taken before the allocation).
    await tf.setBackend("wasm")
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength
    const side = Math.ceil(Math.sqrt(heap() / 4 / 4 / 4)) * 2
    const shape = [1, side, side, 4]
    let grewDuringGrad = false
    await both(() => {
      const x = data(shape)
      const r = data([1, side / 2, side / 2, 4], 0.91)
      const before = tf.getBackend() === "wasm" ? heap() : 0
      const g = tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a as never, 2, 2, "valid"), r)))(x)
      if (tf.getBackend() === "wasm") grewDuringGrad = heap() > before
      return [g]
    })
    expect(grewDuringGrad).toBe(true)
  })

  it("sums and means over leading axes, with and without keepDims, and other axes", async () => {
    await both(() => {
      const x = data([4, 5, 6, 7])
      return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2], true), tf.sum(x, 0), tf.mean(x, [0, 1]), tf.sum(x, [1, 2]), tf.mean(x, -1)]
    })
  })

  it("matrix products with transposed operands", async () => {
    await both(() => {
      const a = data([6, 5])
      const b = data([6, 4], 0.7)
      const c = data([3, 5], 0.3)
      return [tf.matMul(a, b, true, false), tf.matMul(a, c, false, true), tf.matMul(c, a, false, true)]
    })
  })

  it("batch-norm gradients", async () => {
    await both(() => {
      const x = data([3, 4, 4, 5])
      const mean = data([5], 0.2)
      const variance = tf.add(tf.abs(data([5], 0.9)), 0.5)
      const scale = data([5], 0.4)
      const offset = data([5], 0.8)
      const r = data([3, 4, 4, 5], 0.61)
      const f = (a: typeof x, m: typeof mean, v: typeof mean, s: typeof mean, o: typeof mean) =>
        tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), r))
      return tf.grads(f as never)([x, mean, variance, scale, offset])
    })
  })
})
