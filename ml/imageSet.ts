/**
 * The image-set artifact: what download and split produce and what training reads. Per split, raw uint8
 * images (count x height x width x channels, row-major), uint8 labels and, for derived splits, uint32 indices
 * into the source split; a small manifest.json describes them. Reading is one readFileSync per file.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const IMAGE_SET_FORMAT = "pipe-image-set/1"

export interface SplitInfo {
  readonly count: number
  readonly perClass: ReadonlyArray<number>
  readonly images: string
  readonly labels: string
  /** For a split derived from another set: "<file>" of little-endian uint32 indices into `from`. */
  readonly index?: string
  readonly from?: string
}

export interface ImageSetManifest {
  readonly format: typeof IMAGE_SET_FORMAT
  readonly name: string
  readonly classes: ReadonlyArray<string>
  readonly height: number
  readonly width: number
  readonly channels: number
  readonly splits: Readonly<Record<string, SplitInfo>>
  /** Anything else worth keeping with the data: source checksums, split params. */
  readonly meta?: Readonly<Record<string, unknown>>
}

export interface SplitData {
  readonly images: Uint8Array
  readonly labels: Uint8Array
  readonly index?: Uint32Array
  readonly from?: string
}

export interface ImageSet {
  readonly manifest: ImageSetManifest
  readonly splits: Readonly<Record<string, SplitData & { readonly count: number }>>
}

export class ImageSetError extends Error {}

export const countPerClass = (labels: Uint8Array, classes: number): Array<number> => {
  const counts = new Array<number>(classes).fill(0)
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1
  return counts
}

export const writeImageSet = (
  dir: string,
  base: Omit<ImageSetManifest, "format" | "splits">,
  splits: Readonly<Record<string, SplitData>>
): ImageSetManifest => {
  const info: Record<string, SplitInfo> = {}
  const pixels = base.height * base.width * base.channels
  for (const [name, s] of Object.entries(splits)) {
    const count = s.labels.length
    if (s.images.length !== count * pixels) throw new Error(`bug: split ${name} has ${s.images.length} pixels for ${count} labels`)
    writeFileSync(join(dir, `${name}-images.u8`), s.images)
    writeFileSync(join(dir, `${name}-labels.u8`), s.labels)
    if (s.index) writeFileSync(join(dir, `${name}-index.u32`), Buffer.from(s.index.buffer, s.index.byteOffset, s.index.byteLength))
    info[name] = {
      count,
      perClass: countPerClass(s.labels, base.classes.length),
      images: `${name}-images.u8`,
      labels: `${name}-labels.u8`,
      ...(s.index ? { index: `${name}-index.u32` } : {}),
      ...(s.from ? { from: s.from } : {})
    }
  }
  const manifest: ImageSetManifest = { format: IMAGE_SET_FORMAT, ...base, splits: info }
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

export const readImageSet = (dir: string): ImageSet => {
  let manifest: ImageSetManifest
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as ImageSetManifest
  } catch (e) {
    throw new ImageSetError(`${dir}: no readable manifest.json (${(e as Error).message})`)
  }
  if (manifest.format !== IMAGE_SET_FORMAT) {
    throw new ImageSetError(`${dir}: manifest format ${JSON.stringify(manifest.format)}, expected ${IMAGE_SET_FORMAT}`)
  }
  const pixels = manifest.height * manifest.width * manifest.channels
  const splits: Record<string, SplitData & { count: number }> = {}
  for (const [name, s] of Object.entries(manifest.splits)) {
    const images = new Uint8Array(readFileSync(join(dir, s.images)))
    const labels = new Uint8Array(readFileSync(join(dir, s.labels)))
    if (labels.length !== s.count || images.length !== s.count * pixels) {
      throw new ImageSetError(
        `${dir}: split ${name} should hold ${s.count} images, found ${labels.length} labels and ${images.length / pixels} images`
      )
    }
    let index: Uint32Array | undefined
    if (s.index) {
      const raw = readFileSync(join(dir, s.index))
      index = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
    }
    splits[name] = { images, labels, count: s.count, ...(index ? { index } : {}), ...(s.from ? { from: s.from } : {}) }
  }
  return { manifest, splits }
}
