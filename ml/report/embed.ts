/**
 * The images in two dimensions, as the seed's Fig. 2 and 3: PCA (ml-pca; NIPALS for the two leading
 * components) and t-SNE (druidjs, seeded). Both take grayscale images scaled to [0, 1], one row per image.
 */
import * as druid from "@saehrimnir/druidjs"
import { PCA } from "ml-pca"

export type Points = Array<[number, number]>

/** Rows of [0, 1] pixels from `count` images of `pixels` bytes each, starting at image 0. */
export const rows = (images: Uint8Array, count: number, pixels: number): Array<Array<number>> =>
  Array.from({ length: count }, (_, i) => Array.from(images.subarray(i * pixels, (i + 1) * pixels), (v) => v / 255))

const variance = (xs: ReadonlyArray<number>): number => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  return xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length
}

/**
 * The two principal components: each point's scores, and the share of the total variance each explains.
 * Columns that never vary (border pixels that are always 0) are left out: they carry no variance, and
 * NIPALS cannot scale them. Each axis's sign is fixed so its largest loading is positive.
 */
export const pca2d = (data: ReadonlyArray<ReadonlyArray<number>>): { points: Points; explained: [number, number] } => {
  const dims = data[0]?.length ?? 0
  const keep = Array.from({ length: dims }, (_, j) => j).filter((j) => variance(data.map((r) => r[j]!)) > 0)
  const x = data.map((r) => keep.map((j) => r[j]!))
  const pca = new PCA(x, { center: true, scale: false, method: "NIPALS", nCompNIPALS: 2 })
  const loadings = pca.getLoadings().to2DArray()
  const signs = loadings.slice(0, 2).map((l) => {
    const biggest = l.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0)
    return biggest < 0 ? -1 : 1
  })
  const scores = pca.predict(x, { nComponents: 2 }).to2DArray()
  const points: Points = scores.map((s) => [s[0]! * signs[0]!, s[1]! * signs[1]!])
  const total = keep.reduce((a, j) => a + variance(data.map((r) => r[j]!)), 0)
  const explained: [number, number] = [0, 1].map((k) => (total > 0 ? variance(points.map((p) => p[k]!)) / total : 0)) as [number, number]
  return { points, explained }
}

export interface TsneOptions {
  readonly perplexity: number
  readonly iterations: number
  readonly seed: number
}

/** t-SNE to two dimensions; the same data, options and seed give the same points. */
export const tsne2d = (data: ReadonlyArray<ReadonlyArray<number>>, o: TsneOptions): Points => {
  const t = new druid.TSNE(druid.Matrix.from(data as Array<Array<number>>), {
    perplexity: o.perplexity,
    epsilon: 10,
    d: 2,
    seed: o.seed
  })
  const y = t.transform(o.iterations) as unknown as { row: (i: number) => ArrayLike<number> }
  return data.map((_, i) => {
    const r = y.row(i)
    return [r[0]!, r[1]!]
  })
}
