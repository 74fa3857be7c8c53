/**
 * pipeline.yaml composed in TypeScript: `pipe run -f pipelines/fashionMnist.ts` builds the same DAG with the
 * same cache keys. Handles are typed by artifact type, so giving `split` an augmentation policy, or `augment`
 * a split, does not compile.
 */
import { augmentKind } from "../stages/augment.js"
import { downloadKind } from "../stages/download.js"
import { splitKind } from "../stages/split.js"
import { pipeline } from "./compose.js"

const p = pipeline("fashion-mnist", "Fashion-MNIST classification, as in the seed report")

const download = p.stage("download", downloadKind, {
  description: "The official 60,000 training and 10,000 test images, verified"
})
p.stage("split", splitKind, {
  description: "8:2 train/validation split of the training set, stratified by class",
  needs: [download],
  params: { ratio: 0.8, seed: 0 }
})
p.stage("augment", augmentKind, {
  description: "Random crop after 4-pixel zero padding, horizontal flip, normalise to [-1, 1]",
  needs: [download],
  params: { pad: 4, flip: 0.5, mean: 0.5, std: 0.5 }
})

export default p
