/**
 * pipeline.yaml composed in TypeScript: `pipe run -f examples/fashionMnist.ts` builds the same DAG with the
 * same cache keys. Handles are typed by artifact type, so giving `train` a dataset instead of a split, or
 * `evaluate` a policy instead of a model, does not compile.
 */
import { analyzeKind } from "../stages/analyze.js"
import { augmentKind } from "../stages/augment.js"
import { downloadKind } from "../stages/download.js"
import { evaluateKind } from "../stages/evaluate.js"
import { splitKind } from "../stages/split.js"
import { trainKind } from "../stages/train.js"
import { pipeline } from "../pipelines/compose.js"

const p = pipeline("fashion-mnist", "Fashion-MNIST classification, as in the seed report")

const download = p.stage("download", downloadKind, {
  description: "The official 60,000 training and 10,000 test images, verified"
})
const split = p.stage("split", splitKind, {
  description: "8:2 train/validation split of the training set, stratified by class",
  needs: [download],
  params: { ratio: 0.8, seed: 0 }
})
const augment = p.stage("augment", augmentKind, {
  description: "Random crop after 4-pixel zero padding, horizontal flip, normalise to [-1, 1]",
  needs: [download],
  params: { pad: 4, flip: 0.5, mean: 0.5, std: 0.5 }
})
const plain = p.stage("plain", augmentKind, {
  description: "Scale to [0, 1] only, for the MLP (no crops or flips; a zero background suits it better than -1)",
  needs: [download],
  params: { pad: 0, flip: 0, mean: 0, std: 1 }
})
const mlp = p.stage("train-mlp", trainKind, {
  description: "MLP 784-128-10, Adam with cosine annealing and L2 on the kernels",
  needs: [split, plain],
  params: { model: "mlp", epochs: 30, batch_size: 32, lr: 0.001, schedule: "cosine", weight_decay: 0.0001 }
})
const cnn = p.stage("train-cnn", trainKind, {
  description: "Small CNN (conv32-conv64 with batch norm, dense 128), Adam with cosine annealing, on unaugmented images",
  needs: [split, plain],
  params: { model: "cnn", epochs: 3, batch_size: 64, lr: 0.001, schedule: "cosine" }
})
const evaluateMlp = p.stage("evaluate-mlp", evaluateKind, { needs: [mlp, split] })
const evaluateCnn = p.stage("evaluate-cnn", evaluateKind, { needs: [cnn, split] })
p.stage("analyze", analyzeKind, {
  description: "The seed's analysis: curves, errors per class, confused images, PCA, t-SNE, comparison table",
  needs: [evaluateMlp, evaluateCnn, mlp, cnn, split, augment]
})

// The figure `pipe sweep` ranks by, as `metric:` in pipeline.yaml.
p.metric("evaluate-mlp.test_accuracy", "max")

export default p
