/** Running `split`: per class, shuffle that class's indices with the seed and cut at `ratio`. */
import { Effect } from "effect"
import { StageError, type StageContext } from "../pipelines/kind.js"
import { readImageSet, writeImageSet, type SplitData } from "../ml/imageSet.js"
import { rng, shuffle } from "../ml/rng.js"
import type { SplitParams } from "./split.js"

/** Indices of the train part and the validation part, each ascending. */
export const stratify = (labels: Uint8Array, classes: number, ratio: number, seed: number) => {
  const r = rng(seed)
  const train: Array<number> = []
  const val: Array<number> = []
  for (let c = 0; c < classes; c++) {
    const members: Array<number> = []
    labels.forEach((l, i) => l === c && members.push(i))
    shuffle(members, r)
    const cut = Math.round(members.length * ratio)
    train.push(...members.slice(0, cut))
    val.push(...members.slice(cut))
  }
  const sorted = (a: Array<number>) => Uint32Array.from(a).sort()
  return { train: sorted(train), val: sorted(val) }
}

export const gather = (images: Uint8Array, labels: Uint8Array, index: Uint32Array, pixels: number): SplitData => {
  const out = new Uint8Array(index.length * pixels)
  const outLabels = new Uint8Array(index.length)
  index.forEach((src, i) => {
    out.set(images.subarray(src * pixels, src * pixels + pixels), i * pixels)
    outLabels[i] = labels[src]!
  })
  return { images: out, labels: outLabels, index, from: "train" }
}

export const run = (ctx: StageContext<unknown, SplitParams>) =>
  Effect.try({
    try: () => {
      const input = ctx.inputs[0]!
      const data = readImageSet(input.dir)
      const { manifest } = data
      const train = data.splits["train"]
      const test = data.splits["test"]
      if (!train || !test) throw new StageError({ message: `${input.stage}: the dataset has no train or test split` })
      const pixels = manifest.height * manifest.width * manifest.channels
      const parts = stratify(train.labels, manifest.classes.length, ctx.params.ratio, ctx.params.seed)
      const written = writeImageSet(
        ctx.outDir,
        {
          name: manifest.name,
          classes: manifest.classes,
          height: manifest.height,
          width: manifest.width,
          channels: manifest.channels,
          meta: { ratio: ctx.params.ratio, seed: ctx.params.seed, dataset: input.hash, datasetMeta: manifest.meta ?? {} }
        },
        {
          train: gather(train.images, train.labels, parts.train, pixels),
          val: gather(train.images, train.labels, parts.val, pixels),
          test: { images: test.images, labels: test.labels }
        }
      )
      const s = written.splits
      ctx.log(`train ${s["train"]!.count}, val ${s["val"]!.count}, test ${s["test"]!.count}`)
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `split failed: ${(e as Error).message}` }))
  })
