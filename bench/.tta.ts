import { readFileSync } from "node:fs"
import { normalizeBatch, type AugmentPolicy } from "../stages/ml/augment.js"
import { readImageSet } from "../stages/ml/imageSet.js"
import { loadBackend } from "../stages/ml/tfjs/engine.js"
import { loadModel } from "../stages/ml/tfjs/modelFiles.js"
const [modelDir, splitDir] = process.argv.slice(2) as [string, string]
const tf = await loadBackend("wasm")
const model = await loadModel(tf, modelDir)
const policy = JSON.parse(readFileSync(`${modelDir}/policy.json`, "utf8")) as AugmentPolicy
const test = readImageSet(splitDir).splits["test"]!
const n = test.count
const all = new Float32Array(n * 784)
normalizeBatch(policy, test.images, Uint32Array.from({ length: n }, (_, i) => i), all)
let plain = 0, tta = 0
for (let s = 0; s < n; s += 500) {
  const m = Math.min(500, n - s)
  tf.tidy(() => {
    const x = tf.tensor4d(all.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1])
    const p1 = tf.softmax(model.predict(x) as never)
    const p2 = tf.softmax(model.predict(tf.reverse(x, 2)) as never)
    const a = tf.argMax(p1, 1).dataSync(), b = tf.argMax(tf.add(p1, p2), 1).dataSync()
    for (let i = 0; i < m; i++) { if (a[i] === test.labels[s + i]) plain++; if (b[i] === test.labels[s + i]) tta++ }
  })
}
console.log(JSON.stringify({ plain: plain / n, tta: tta / n }))
