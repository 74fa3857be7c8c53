/**
 * Reading one published data file: gunzip when gzipped, parse and validate the IDX structure, then check the
 * decompressed content against its published sha256. The order gives the most specific message: a broken
 * gzip stream, then a wrong header or length, then content that is well-formed but not the published data.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { basename } from "node:path"
import { gunzipSync } from "node:zlib"
import type { SourceFile } from "./fashionMnist.js"
import { IdxError, parseIdx, type Idx } from "./idx.js"

export class SourceError extends Error {}

export const decompress = (path: string, bytes: Uint8Array = readFileSync(path)): Uint8Array => {
  if (!path.endsWith(".gz")) return bytes
  try {
    return gunzipSync(bytes)
  } catch (e) {
    throw new SourceError(`${path}: not a valid gzip file (${(e as Error).message}); the file is damaged or incomplete: delete it and fetch it again`)
  }
}

export const readSourceFile = (path: string, file: SourceFile, classes: number): Idx => {
  const raw = decompress(path)
  let idx: Idx
  try {
    idx = parseIdx(raw, basename(path), file.role === "images" ? 3 : 1)
  } catch (e) {
    if (e instanceof IdxError) throw new SourceError(`${path}: ${e.message.slice(basename(path).length + 2)}`)
    throw e
  }
  if (idx.dims[0] !== file.count || (file.role === "images" && (idx.dims[1] !== 28 || idx.dims[2] !== 28))) {
    throw new SourceError(
      `${path}: holds ${idx.dims.join("x")} ${file.role}, expected ${file.role === "images" ? `${file.count}x28x28` : file.count}`
    )
  }
  const actual = createHash("sha256").update(raw).digest("hex")
  if (actual !== file.sha256) {
    throw new SourceError(
      `${path}: checksum mismatch for ${file.name} (decompressed): expected sha256 ${file.sha256}, got ${actual}; ` +
        "the file is not the published Fashion-MNIST data"
    )
  }
  if (file.role === "labels") {
    const bad = idx.data.findIndex((l) => l >= classes)
    if (bad >= 0) throw new SourceError(`${path}: label ${idx.data[bad]} at index ${bad} is not a class (0..${classes - 1})`)
  }
  return idx
}
