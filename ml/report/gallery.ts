/**
 * Fig. 8: galleries of misclassified test images, one per (true, predicted) pair. Each gallery is one PNG
 * (real pixels, pngjs) and an SVG that shows it with its title and each image's test index, so the labels are
 * text, not pixels.
 */
import { gridPng } from "../png.js"

export interface Gallery {
  readonly title: string
  readonly png: Buffer
  readonly svg: string
  readonly indices: ReadonlyArray<number>
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const CELL = 28
const SCALE = 3
const GAP = 4
const COLS = 8

/** A gallery of up to `max` test images (by index), `COLS` per row, titled with the pair. */
export const gallery = (
  images: Uint8Array,
  indices: ReadonlyArray<number>,
  title: string,
  max: number
): Gallery => {
  const shown = indices.slice(0, max)
  const tiles = shown.map((i) => ({ pixels: images.subarray(i * CELL * CELL, (i + 1) * CELL * CELL), width: CELL, height: CELL }))
  const rows = Array.from({ length: Math.ceil(tiles.length / COLS) }, (_, r) => tiles.slice(r * COLS, (r + 1) * COLS))
  const png = gridPng(rows.length ? rows : [[]], { cell: CELL, scale: SCALE, gap: GAP })
  const step = CELL * SCALE + GAP
  const width = GAP + Math.max(1, Math.min(COLS, shown.length)) * step
  const imgHeight = GAP + Math.max(1, rows.length) * step
  const label = 14
  const height = 28 + imgHeight + rows.length * label
  const captions = shown.map((idx, k) => {
    const r = Math.floor(k / COLS)
    const c = k % COLS
    const x = GAP + c * step + (CELL * SCALE) / 2
    const y = 28 + GAP + r * step + CELL * SCALE + r * label + 11
    return `<text x="${x}" y="${y}" text-anchor="middle" font-size="10" fill="#444">#${idx}</text>`
  })
  // Captions sit under each row: the PNG is drawn row by row so the labels can go between the rows.
  const rowImages = rows.map((_, r) => {
    const y = 28 + r * (step + label)
    return `<svg x="0" y="${y}" width="${width}" height="${step + GAP}" viewBox="0 ${r * step} ${width} ${step + GAP}" preserveAspectRatio="xMinYMin slice"><image href="data:image/png;base64,${png.toString("base64")}" x="0" y="0" width="${width}" height="${imgHeight}" style="image-rendering:pixelated"/></svg>`
  })
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(width, 360)}" height="${height}" viewBox="0 0 ${Math.max(width, 360)} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${GAP}" y="18" font-size="13" font-weight="bold" font-family="sans-serif">${escape(title)}</text>`,
    ...rowImages,
    ...captions,
    shown.length === 0 ? `<text x="${GAP}" y="48" font-size="12" font-family="sans-serif">no such errors</text>` : "",
    `</svg>`
  ].join("\n")
  return { title, png, svg, indices: shown }
}
