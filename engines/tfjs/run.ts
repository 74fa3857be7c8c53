/** Training and evaluating on TensorFlow.js, in this process: loaded here, only when a stage runs. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { normalizeBatch, type AugmentPolicy } from "../../ml/augment.js"
import { writeEvaluation, type Figures } from "../../ml/evaluation.js"
import { readImageSet } from "../../ml/imageSet.js"
import { appendTrainingRecord, copyPolicy, MODEL_FILES, writeModelConfig } from "../../ml/modelArtifact.js"
import { withoutTimings } from "../../ml/timings.js"
import { EngineError, finishTraining, resumePoint, type EvaluateJob, type TrainFigures, type TrainJob } from "../engine.js"
import { horizonOf } from "../params.js"
import { loadWeightsInto, restoreTrainState, saveTrainState } from "./trainState.js"
import { loadBackend, pickBackend, tfjsVersion } from "./engine.js"
import { loadModel, saveModel } from "./modelFiles.js"
import { buildModel, trainableParams } from "./models.js"
import type { TfjsParams } from "./tfjsEngine.js"
import { train } from "./training.js"

type Tensor = import("@tensorflow/tfjs").Tensor

const readPolicy = (dir: string): AugmentPolicy => JSON.parse(readFileSync(join(dir, MODEL_FILES.policy), "utf8")) as AugmentPolicy

export const trainTfjs = async (job: TrainJob<TfjsParams>): Promise<TrainFigures> => {
  const { training: params } = job
  const data = readImageSet(job.split.dir)
  const train_ = data.splits["train"]
  const val = data.splits["val"]
  if (!train_ || !val) throw new EngineError({ message: `${job.split.stage}: the split has no train or val part` })
  const policy = readPolicy(job.policy.dir)
  const backend = pickBackend(job.params.backend)
  job.log(`loading TensorFlow.js on ${backend}`)
  const tf = await loadBackend(backend)
  const model = buildModel(tf, params.model, { ...(params.dropout !== undefined ? { dropout: params.dropout } : {}), seed: params.seed })
  const count = trainableParams(model)
  job.log(`${params.model}: ${count.toLocaleString("en")} parameters; ${train_.count} training and ${val.count} validation images`)
  const optimizer = tf.train.adam(params.lr)
  const resumed = resumePoint(job, "tfjs")
  if (resumed) {
    loadWeightsInto(tf, model, job.resume!.dir)
    await restoreTrainState(tf, model, optimizer, job.resume!.dir, job.resume!.stage)
  }
  const t0 = performance.now()
  const history = await train(
    tf,
    model,
    { train: train_, val },
    policy,
    {
      epochs: params.epochs,
      scheduleEpochs: horizonOf(params),
      startEpoch: resumed?.epochs ?? 0,
      batchSize: params.batch_size,
      lr: params.lr,
      weightDecay: params.weight_decay,
      decoupled: params.optimizer === "adamw",
      labelSmoothing: params.label_smoothing,
      schedule: params.schedule,
      warmup: params.warmup,
      seed: params.seed,
      classes: data.manifest.classes.length
    },
    {
      // The artifact's records carry no timings (they would change its hash on every run); the log has them.
      record: (r) => appendTrainingRecord(job.outDir, withoutTimings(r)),
      progress: job.progress,
      log: job.log,
      signal: job.signal
    },
    optimizer
  )
  const seconds = (performance.now() - t0) / 1000
  await saveModel(tf, model, job.outDir)
  // A training with a declared horizon can be continued: it keeps what that needs.
  if (params.schedule_epochs !== undefined) saveTrainState(model, optimizer, params.epochs, job.outDir)
  optimizer.dispose()
  copyPolicy(job.policy.dir, job.outDir)
  writeModelConfig(job.outDir, {
    model: params.model,
    // The training params and the engine's name: the backend is in the identity (naming the backend that `auto`
    // picks is the same key, so it must give the same bytes). The torch engine has always left `engine` out.
    params: { ...params, engine: "tfjs" },
    engine: { engine: "tfjs", backend, tfjs: tfjsVersion() ?? "unknown" },
    parameters: count,
    classes: data.manifest.classes,
    inputs: { split: job.split.hash, augment: job.policy.hash },
    ...(resumed ? { resumed: { from: job.resume!.hash, epochs: resumed.epochs } } : {})
  })
  // The timings stay with the run (its metrics), out of the artifact.
  const figures = finishTraining(job.outDir, { model: params.model, backend, parameters: count, epochs: params.epochs }, history, seconds)
  model.dispose()
  return figures
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const evaluateTfjs = async (job: EvaluateJob<TfjsParams>): Promise<Figures> => {
  const data = readImageSet(job.split.dir)
  const test = data.splits["test"]
  if (!test) throw new EngineError({ message: `${job.split.stage}: the split has no test set` })
  const classes = data.manifest.classes.length
  const policy = readPolicy(job.model.dir)
  const backend = pickBackend(job.params.backend)
  const tf = await loadBackend(backend)
  const model = await loadModel(tf, job.model.dir)
  const pixels = policy.height * policy.width
  const n = test.count
  const all = new Float32Array(n * pixels)
  normalizeBatch(policy, test.images, Uint32Array.from({ length: n }, (_, i) => i), all)

  // The model's class scores for a batch: logits, or with flip TTA the log of the mean probability of the
  // image and its mirror image (the loss below is cross-entropy on either).
  const { batch_size: batch, timing_runs, tta: ttaParam } = job.evaluation
  const tta = ttaParam === "flip"
  const withTta = (x: Tensor, logits: Tensor): Tensor =>
    tta ? tf.log(tf.div(tf.add(tf.softmax(logits), tf.softmax(model.predict(tf.reverse(x, 2)) as Tensor)), 2)) : logits
  const scores = (x: Tensor): Tensor => withTta(x, model.predict(x) as Tensor)
  const predictions = new Uint8Array(n)
  // With TTA, also how the plain predictions would have scored, so the gain is visible.
  let plainCorrect = 0
  let lossSum = 0
  const batchTimes: Array<number> = []
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start)
    const t0 = performance.now()
    tf.tidy(() => {
      const x = tf.tensor4d(all.subarray(start * pixels, (start + m) * pixels), [m, policy.height, policy.width, 1])
      const plain = model.predict(x) as Tensor
      const logits = withTta(x, plain)
      predictions.set(tf.argMax(logits, 1).dataSync() as Int32Array, start)
      if (tta) {
        const p = tf.argMax(plain, 1).dataSync()
        for (let i = 0; i < m; i++) if (p[i] === test.labels[start + i]) plainCorrect++
      }
      const labels = tf.oneHot(tf.tensor1d(Int32Array.from(test.labels.subarray(start, start + m)), "int32"), classes)
      lossSum += tf.losses.softmaxCrossEntropy(labels, logits).dataSync()[0]! * m
    })
    if (m === batch) batchTimes.push((performance.now() - t0) / m)
  }
  const singleTimes: Array<number> = []
  for (let i = 0; i < timing_runs; i++) {
    const k = i % n
    const t0 = performance.now()
    tf.tidy(() => {
      ;scores(tf.tensor4d(all.subarray(k * pixels, (k + 1) * pixels), [1, policy.height, policy.width, 1])).dataSync()
    })
    singleTimes.push(performance.now() - t0)
  }

  const parameters = trainableParams(model)
  model.dispose()
  return writeEvaluation(
    job.outDir,
    {
      model: job.model.hash,
      classes: data.manifest.classes,
      labels: test.labels,
      predictions,
      loss: lossSum / n,
      parameters,
      msPerImageBatch: batchTimes.length ? median(batchTimes) : null,
      msPerImageSingle: median(singleTimes),
      batchSize: batch,
      tta: ttaParam,
      ...(tta ? { plainCorrect } : {}),
      backend
    },
    job.log
  )
}
