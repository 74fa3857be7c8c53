/**
 * A grid of images (one PNG, as the augment stage and the report draw them) shown with text labels: a name for
 * each row on its left and a heading over each column, so that what a row or a column is reads as text, not
 * pixels. The PNG is not cut up: labels sit at the centre of equal bands of its height and width, which is
 * where gridPng puts its rows and columns (up to the few pixels of its outer gap).
 */

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** A PNG's width and height, from its header (IHDR, the first chunk). */
export const pngSize = (png: Buffer): { width: number; height: number } => {
  if (png.length < 24 || png.toString("ascii", 12, 16) !== "IHDR") throw new Error("not a PNG file")
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

const CHAR = 6.6 // width of a 11px sans-serif character, about
const FONT = `font-family="sans-serif" font-size="11" fill="#333"`

/** The PNG as an SVG with a title, row labels (top to bottom) and column labels (left to right). */
export const labelledGrid = (
  png: Buffer,
  o: { readonly title: string; readonly rows?: ReadonlyArray<string>; readonly columns?: ReadonlyArray<string> }
): string => {
  const { width, height } = pngSize(png)
  const rows = o.rows ?? []
  const columns = o.columns ?? []
  const left = rows.length > 0 ? Math.ceil(Math.max(...rows.map((r) => r.length)) * CHAR) + 12 : 0
  const top = 26 + (columns.length > 0 ? 18 : 0)
  const total = { width: Math.max(left + width, Math.ceil(o.title.length * 7.5) + 8), height: top + height }
  const rowText = rows.map(
    (r, i) => `<text x="${left - 8}" y="${(top + ((i + 0.5) * height) / rows.length + 4).toFixed(1)}" text-anchor="end" ${FONT}>${escape(r)}</text>`
  )
  const columnText = columns.map(
    (c, j) => `<text x="${(left + ((j + 0.5) * width) / columns.length).toFixed(1)}" y="${top - 6}" text-anchor="middle" ${FONT}>${escape(c)}</text>`
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total.width}" height="${total.height}" viewBox="0 0 ${total.width} ${total.height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="4" y="18" font-size="13" font-weight="bold" font-family="sans-serif">${escape(o.title)}</text>`,
    ...columnText,
    ...rowText,
    `<image href="data:image/png;base64,${png.toString("base64")}" x="${left}" y="${top}" width="${width}" height="${height}" style="image-rendering:pixelated"/>`,
    `</svg>`
  ].join("\n")
}
