/**
 * Training throughput (bench/run.mjs bundles and runs this file): images/s of training steps per model and
 * backend, on random inputs (speed does not depend on the data). Prints one JSON line.
 */
import { loadBackend, type Backend } from "../engines/tfjs/engine.js"
import { buildModel, type ModelName } from "../engines/tfjs/models.js"

const cases: Array<{ model: ModelName; backend: Backend; batch: number; steps: number }> = [
  { model: "mlp", backend: "wasm", batch: 128, steps: 60 },
  { model: "cnn", backend: "wasm", batch: 128, steps: 12 },
  { model: "resnet18", backend: "wasm", batch: 32, steps: 3 },
  { model: "mlp", backend: "cpu", batch: 128, steps: 30 },
  { model: "cnn", backend: "cpu", batch: 32, steps: 2 }
]

const results: Array<Record<string, unknown>> = []
for (const c of cases) {
  const tf = await loadBackend(c.backend)
  await tf.setBackend(c.backend)
  const model = buildModel(tf, c.model)
  const optimizer = tf.train.adam(1e-3)
  const x = tf.randomNormal([c.batch, 28, 28, 1])
  const y = tf.oneHot(tf.randomUniform([c.batch], 0, 10, "int32"), 10)
  const step = () =>
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as never) as never)
    })
  step() // warm-up: kernels compiled, weights allocated
  const t0 = performance.now()
  for (let i = 0; i < c.steps; i++) step()
  const seconds = (performance.now() - t0) / 1000
  results.push({ ...c, images_per_s: (c.steps * c.batch) / seconds })
  model.dispose()
  optimizer.dispose()
  tf.dispose([x, y])
}
console.log(JSON.stringify(results))
