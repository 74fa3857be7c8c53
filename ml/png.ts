/** Grayscale image grids as real PNG files (pngjs), for previews and report figures. */
import { PNG } from "pngjs"

export interface Tile {
  /** Row-major grayscale pixels, width x height. */
  readonly pixels: Uint8Array
  readonly width: number
  readonly height: number
}

/**
 * Lays tiles out in rows (each row a list of tiles), every cell `cell` x `cell` pixels with the tile centred,
 * scaled by `scale` with nearest-neighbour, separated by `gap` pixels of background.
 */
export const gridPng = (rows: ReadonlyArray<ReadonlyArray<Tile>>, opts: { cell: number; scale: number; gap: number }): Buffer => {
  const { cell, scale, gap } = opts
  const cols = Math.max(...rows.map((r) => r.length))
  const step = cell * scale + gap
  const width = gap + cols * step
  const height = gap + rows.length * step
  const png = new PNG({ width, height })
  png.data.fill(255)
  rows.forEach((row, r) =>
    row.forEach((t, c) => {
      const ox = gap + c * step + Math.floor((cell - t.width) / 2) * scale
      const oy = gap + r * step + Math.floor((cell - t.height) / 2) * scale
      for (let y = 0; y < t.height * scale; y++) {
        for (let x = 0; x < t.width * scale; x++) {
          const v = t.pixels[Math.floor(y / scale) * t.width + Math.floor(x / scale)]!
          const i = ((oy + y) * width + ox + x) * 4
          png.data[i] = png.data[i + 1] = png.data[i + 2] = v
          png.data[i + 3] = 255
        }
      }
    })
  )
  return PNG.sync.write(png)
}
