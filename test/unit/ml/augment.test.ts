import { describe, expect, it } from "vitest"
import {
  augmentBatch,
  brighten,
  draw,
  epochRng,
  hflip,
  normalize,
  normalizeBatch,
  padCrop,
  POLICY_FORMAT,
  rotate,
  type AugmentPolicy
} from "../../../ml/augment.js"
import { rng, shuffle } from "../../../ml/rng.js"

const W = 28
const H = 28
const N = W * H
const policy: AugmentPolicy = { format: POLICY_FORMAT, height: H, width: W, pad: 4, flip: 0.5, rotate: 0, brightness: 0, mean: 0.5, std: 0.5, seed: 7 }

/** A deterministic, asymmetric test image. */
const image = (k = 0) => Uint8Array.from({ length: N }, (_, i) => ((i * 31 + k * 17) ^ (i >> 3)) & 0xff)
const images = (n: number) => {
  const out = new Uint8Array(n * N)
  for (let k = 0; k < n; k++) out.set(image(k), k * N)
  return out
}

describe("augmentation functions", () => {
  it("flip twice is the identity, and flip mirrors each row", () => {
    const src = image()
    const once = new Uint8Array(N)
    const twice = new Uint8Array(N)
    hflip(src, once, W, H)
    hflip(once, twice, W, H)
    expect(twice).toEqual(src)
    expect(once[0]).toBe(src[W - 1])
    expect(once).not.toEqual(src)
  })

  it("a crop at the centre of the padding is the identity; other crops shift and fill with zeros", () => {
    const src = image()
    const out = new Uint8Array(N)
    padCrop(src, out, W, H, 4, 4, 4)
    expect(out).toEqual(src)
    padCrop(src, out, W, H, 4, 0, 0) // the window starts 4 pixels up-left: content moves right and down
    expect(out[0]).toBe(0)
    expect(out[4 * W + 4]).toBe(src[0])
    expect(out[(H - 1) * W + W - 1]).toBe(src[(H - 5) * W + W - 5])
    padCrop(src, out, W, H, 4, 8, 8)
    expect(out[0]).toBe(src[4 * W + 4])
    expect(out[(H - 1) * W + W - 1]).toBe(0)
  })

  it("random crops stay within the padded bounds", () => {
    const r = rng(1)
    const seen = new Set<number>()
    for (let i = 0; i < 5000; i++) {
      const d = draw(policy, r)
      expect(d.dx).toBeGreaterThanOrEqual(0)
      expect(d.dx).toBeLessThanOrEqual(8)
      expect(d.dy).toBeGreaterThanOrEqual(0)
      expect(d.dy).toBeLessThanOrEqual(8)
      seen.add(d.dx)
    }
    expect(seen.size).toBe(9)
  })

  it("normalisation maps 0 to -1 and 255 to 1 with mean = std = 0.5", () => {
    const out = new Float32Array(3)
    normalize(Uint8Array.from([0, 255, 51]), out, 0, 0.5, 0.5)
    expect(out[0]).toBeCloseTo(-1, 6)
    expect(out[1]).toBeCloseTo(1, 6)
    expect(out[2]).toBeCloseTo(-0.6, 6)
  })

  it("rotation by 0 is the identity and by 180 equals flipping both axes", () => {
    const src = image()
    const out = new Uint8Array(N)
    rotate(src, out, W, H, 0)
    expect(out).toEqual(src)
    rotate(src, out, W, H, 180)
    const both = Uint8Array.from({ length: N }, (_, i) => src[N - 1 - i]!)
    expect(out).toEqual(both)
  })

  it("brightness scales and clamps", () => {
    const out = new Uint8Array(3)
    brighten(Uint8Array.from([10, 200, 0]), out, 1.5)
    expect([...out]).toEqual([15, 255, 0])
  })
})

describe("augmentBatch", () => {
  const data = images(16)
  const order = Array.from({ length: 16 }, (_, i) => 15 - i)
  const run = (p: AugmentPolicy, epoch: number) => {
    const out = new Float32Array(order.length * N)
    augmentBatch(p, data, order, out, epochRng(p, epoch))
    return out
  }

  it("gives the same batch for the same seed and epoch, and another for another epoch or seed", () => {
    expect(run(policy, 3)).toEqual(run(policy, 3))
    expect(run(policy, 3)).not.toEqual(run(policy, 4))
    expect(run({ ...policy, seed: 8 }, 3)).not.toEqual(run(policy, 3))
  })

  it("with nothing random left, equals plain normalisation in the requested order", () => {
    const still = { ...policy, pad: 0, flip: 0 }
    const expected = new Float32Array(order.length * N)
    normalizeBatch(still, data, order, expected)
    expect(run(still, 1)).toEqual(expected)
    expect(expected[0]).toBeCloseTo((data[15 * N]! / 255 - 0.5) / 0.5, 6)
  })

  it("flips about half the images with flip = 0.5", () => {
    const r = rng(42)
    let flips = 0
    for (let i = 0; i < 10000; i++) if (draw(policy, r).flip) flips++
    expect(flips).toBeGreaterThan(4800)
    expect(flips).toBeLessThan(5200)
  })

  it("keeps values in [-1, 1]", () => {
    const out = run({ ...policy, rotate: 15, brightness: 0.3 }, 0)
    expect(Math.min(...out)).toBeGreaterThanOrEqual(-1)
    expect(Math.max(...out)).toBeLessThanOrEqual(1)
  })
})

describe("rng", () => {
  it("is deterministic per seed and stream, and shuffles into a permutation", () => {
    const a = Array.from({ length: 5 }, () => rng(3, 1).next())
    expect(Array.from({ length: 5 }, () => rng(3, 1).next())).toEqual(a)
    const r1 = rng(3, 1)
    const r2 = rng(3, 2)
    expect(r1.next()).not.toBe(r2.next())
    const p = shuffle(Array.from({ length: 100 }, (_, i) => i), rng(9))
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(p).toEqual(shuffle(Array.from({ length: 100 }, (_, i) => i), rng(9)))
  })
})
