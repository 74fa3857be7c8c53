/** The seed's architectures: parameter counts (trainable, as PyTorch counts them) and output shapes. */
import { beforeAll, describe, expect, it } from "vitest"
import { loadBackend, type Tf } from "../../stages/ml/tfjs/engine.js"
import { buildModel, trainableParams, type ModelName } from "../../stages/ml/tfjs/models.js"

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
