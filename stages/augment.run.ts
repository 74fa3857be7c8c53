/** Running `augment`: write policy.json and the two preview PNGs. */
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import type { AugmentParams } from "./augment.js"
import { StageError, type StageContext } from "../pipelines/kind.js"
import { draw, hflip, normalize, padCrop, POLICY_FORMAT, type AugmentPolicy } from "../ml/augment.js"
import { readImageSet } from "../ml/imageSet.js"
import { gridPng, type Tile } from "../ml/png.js"
import { rng } from "../ml/rng.js"

const SAMPLES_PER_CLASS = 10

const tile = (pixels: Uint8Array, width: number, height: number): Tile => ({ pixels, width, height })

/** The zero-padded image itself, for showing the padding step. */
const padded = (src: Uint8Array, w: number, h: number, pad: number): Tile => {
  const W = w + 2 * pad
  const out = new Uint8Array(W * (h + 2 * pad))
  for (let y = 0; y < h; y++) out.set(src.subarray(y * w, y * w + w), (y + pad) * W + pad)
  return tile(out, W, h + 2 * pad)
}

/** Normalised floats mapped back to 0..255 for display. */
const shown = (values: Float32Array, p: AugmentPolicy): Uint8Array =>
  Uint8Array.from(values, (v) => Math.max(0, Math.min(255, Math.round((v * p.std + p.mean) * 255))))

export const run = (ctx: StageContext<unknown, AugmentParams>) =>
  Effect.try({
    try: () => {
      const { params } = ctx
      const data = readImageSet(ctx.inputs[0]!.dir)
      const { manifest } = data
      const train = data.splits["train"]
      if (!train) throw new StageError({ message: "the dataset has no train split" })
      const policy: AugmentPolicy = {
        format: POLICY_FORMAT,
        height: manifest.height,
        width: manifest.width,
        pad: params.pad,
        flip: params.flip,
        rotate: params.rotate,
        brightness: params.brightness,
        mean: params.mean,
        std: params.std,
        seed: params.seed
      }
      writeFileSync(join(ctx.outDir, "policy.json"), `${JSON.stringify(policy, null, 2)}\n`)

      // Fig. 4: original | zero-padded | random crop | flip | normalised, one row per image, one image per class.
      const { width: w, height: h } = manifest
      const n = w * h
      const r = rng(params.seed, 0xf19)
      const firstOf = (c: number) => train.labels.indexOf(c)
      const classes = manifest.classes.map((_, c) => c).filter((c) => firstOf(c) >= 0)
      const rows: Array<Array<Tile>> = []
      const steps: Array<Record<string, unknown>> = []
      for (const c of classes.slice(0, params.preview)) {
        const i = firstOf(c)
        const src = train.images.subarray(i * n, i * n + n)
        const d = draw(policy, r)
        const crop = new Uint8Array(n)
        padCrop(src, crop, w, h, policy.pad, d.dx, d.dy)
        const flipped = new Uint8Array(n)
        if (d.flip) hflip(crop, flipped, w, h)
        else flipped.set(crop)
        const norm = new Float32Array(n)
        normalize(flipped, norm, 0, policy.mean, policy.std)
        rows.push([tile(src, w, h), padded(src, w, h, policy.pad), tile(crop, w, h), tile(flipped, w, h), tile(shown(norm, policy), w, h)])
        steps.push({ index: i, class: manifest.classes[c], crop: [d.dx, d.dy], flipped: d.flip })
      }
      const cell = w + 2 * policy.pad
      writeFileSync(join(ctx.outDir, "augmentation-steps.png"), gridPng(rows, { cell, scale: 3, gap: 6 }))

      // Fig. 1: the first SAMPLES_PER_CLASS training images of each class, one row per class.
      const grid = manifest.classes.map((_, c) => {
        const row: Array<Tile> = []
        for (let i = 0; i < train.count && row.length < SAMPLES_PER_CLASS; i++) {
          if (train.labels[i] === c) row.push(tile(train.images.subarray(i * n, i * n + n), w, h))
        }
        return row
      })
      writeFileSync(join(ctx.outDir, "samples-per-class.png"), gridPng(grid, { cell: w, scale: 2, gap: 4 }))
      writeFileSync(
        join(ctx.outDir, "previews.json"),
        `${JSON.stringify(
          {
            "augmentation-steps.png": { columns: ["original", `zero-padded by ${policy.pad}`, "random crop", "flip", "normalised"], rows: steps },
            "samples-per-class.png": { rows: manifest.classes, perRow: SAMPLES_PER_CLASS }
          },
          null,
          2
        )}\n`
      )
      ctx.log(`policy: pad ${policy.pad}, flip ${policy.flip}, rotate ${policy.rotate}, brightness ${policy.brightness}`)
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `augment failed: ${(e as Error).message}` }))
  })
