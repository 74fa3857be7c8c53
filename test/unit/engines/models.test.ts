/** The seed's architectures: parameter counts (trainable, as PyTorch counts them) and output shapes. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { loadBackend, type Tf } from "../../../engines/tfjs/engine.js"
import { loadModel, saveModel } from "../../../engines/tfjs/modelFiles.js"
import { buildModel, trainableParams, type ModelName } from "../../../engines/tfjs/models.js"
import { seededDropout } from "../../../engines/tfjs/seededDropout.js"

let tf: Tf
beforeAll(async () => {
  tf = await loadBackend("wasm")
}, 60_000)

const expected: Record<ModelName, number> = {
  mlp: 784 * 128 + 128 + 128 * 10 + 10, // 101,770
  cnn: 3 * 3 * 1 * 32 + 2 * 32 + 3 * 3 * 32 * 64 + 2 * 64 + 7 * 7 * 64 * 128 + 128 + 128 * 10 + 10,
  // torchvision's resnet18 (11,689,512) with the seed's 3x3 one-channel stem (576 instead of 9,408) and a
  // 10-class head (5,130 instead of 513,000); likewise resnet34 (21,797,672)
  resnet18: 11_689_512 - 9408 + 576 - 513_000 + 5130,
  resnet34: 21_797_672 - 9408 + 576 - 513_000 + 5130
}

describe("models", () => {
  for (const name of ["mlp", "cnn", "resnet18", "resnet34"] as const) {
    it(`${name}: ${expected[name].toLocaleString("en")} trainable parameters, logits of shape [n, 10]`, () => {
      const model = buildModel(tf, name)
      expect(trainableParams(model)).toBe(expected[name])
      const y = tf.tidy(() => (model.predict(tf.zeros([2, 28, 28, 1])) as import("@tensorflow/tfjs").Tensor).shape)
      expect(y).toEqual([2, 10])
      model.dispose()
    }, 60_000)
  }

  it("a model saved in a process that built others before is byte for byte the same (layer names do not count models)", async () => {
    const files = async () => {
      const dir = mkdtempSync(join(tmpdir(), "pipe-model-"))
      const m = buildModel(tf, "cnn", { seed: 1, dropout: 0.2 })
      await saveModel(tf, m, dir)
      m.dispose()
      const { readFileSync } = await import("node:fs")
      const out = [readFileSync(join(dir, "model.json"), "utf8"), readFileSync(join(dir, "weights.bin")).toString("hex")]
      rmSync(dir, { recursive: true, force: true })
      return out
    }
    const first = await files()
    buildModel(tf, "mlp").dispose()
    const second = await files()
    expect(second[0]).toBe(first[0])
    expect(second[1]).toBe(first[1])
    expect(first[0]).toContain('"name":"conv2d_1"')
  })

  it("the same seed builds the same weights", () => {
    const a = buildModel(tf, "cnn", { seed: 3 })
    const b = buildModel(tf, "cnn", { seed: 3 })
    const c = buildModel(tf, "cnn", { seed: 4 })
    const w = (m: typeof a) => Array.from(m.getWeights()[0]!.dataSync())
    expect(w(a)).toEqual(w(b))
    expect(w(a)).not.toEqual(w(c))
    for (const m of [a, b, c]) m.dispose()
  })
})

describe("seeded dropout", () => {
  type T = import("@tensorflow/tfjs").Tensor
  const masks = (seed: number, calls: number) => {
    const layer = seededDropout(tf, { rate: 0.5, seed }) as unknown as { apply: (x: T, k: object) => T }
    return Array.from({ length: calls }, () => tf.tidy(() => Array.from(layer.apply(tf.ones([64]), { training: true }).dataSync())))
  }

  it("draws a new mask at every call, the same sequence for the same seed, and scales kept units", () => {
    const a = masks(3, 3)
    expect(masks(3, 3)).toEqual(a)
    expect(a[1]).not.toEqual(a[0])
    expect(masks(4, 1)[0]).not.toEqual(a[0])
    for (const m of a) for (const v of m) expect([0, 2]).toContain(v)
    const dropped = a.flat().filter((v) => v === 0).length / (3 * 64)
    expect(dropped).toBeGreaterThan(0.3)
    expect(dropped).toBeLessThan(0.7)
  })

  it("is the identity at inference, and a model with it saves and loads", async () => {
    const model = buildModel(tf, "mlp", { seed: 2, dropout: 0.5 })
    expect(model.layers.map((l) => l.getClassName())).toContain("SeededDropout")
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 9)
    const before = Array.from((model.predict(x) as T).dataSync())
    expect(Array.from((model.predict(x) as T).dataSync())).toEqual(before)
    const dir = mkdtempSync(join(tmpdir(), "pipe-model-"))
    try {
      await saveModel(tf, model, dir)
      const again = await loadModel(tf, dir)
      expect(Array.from((again.predict(x) as T).dataSync())).toEqual(before)
      again.dispose()
    } finally {
      rmSync(dir, { recursive: true, force: true })
      model.dispose()
      x.dispose()
    }
  })
})
