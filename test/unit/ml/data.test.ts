import { createHash } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { afterAll, describe, expect, it } from "vitest"
import { gather, stratify } from "../../../stages/split.run.js"
import type { SourceFile } from "../../../ml/fashionMnist.js"
import { parseIdx, writeIdx } from "../../../ml/idx.js"
import { readImageSet, writeImageSet } from "../../../ml/imageSet.js"
import { readSourceFile } from "../../../ml/sourceFiles.js"

const dir = mkdtempSync(join(tmpdir(), "pipe-data-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const images = writeIdx([3, 28, 28], Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 251))
const labels = writeIdx([3], Uint8Array.from([0, 9, 4]))
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
const file = (role: "images" | "labels", bytes: Uint8Array): SourceFile => ({
  name: `tiny-${role}`,
  split: "train",
  role,
  count: 3,
  bytes: bytes.length,
  sha256: sha(bytes)
})
const put = (name: string, bytes: Uint8Array) => {
  const p = join(dir, name)
  writeFileSync(p, bytes)
  return p
}

describe("IDX", () => {
  it("round-trips and exposes dims and data", () => {
    const idx = parseIdx(images, "x", 3)
    expect(idx.dims).toEqual([3, 28, 28])
    expect(idx.data.length).toBe(3 * 784)
    expect(idx.data[300]).toBe(300 % 251)
  })

  it("rejects damaged headers and lengths with a precise message", () => {
    const bad = (mutate: (b: Uint8Array) => Uint8Array, dims = 3) => () => parseIdx(mutate(Uint8Array.from(images)), "f", dims)
    expect(bad((b) => ((b[0] = 0x1f), b))).toThrow("f: not an IDX file (magic number starts 0x1f 0x00, expected 0x00 0x00)")
    expect(bad((b) => ((b[2] = 0x0d), b))).toThrow("f: unsupported IDX element type 0x0d (expected 0x08, unsigned bytes)")
    expect(bad((b) => b, 1)).toThrow("f: wrong magic number 0x00000803 (3 dimensions), expected 0x00000801 (1)")
    expect(bad((b) => b.subarray(0, 10))).toThrow("f: truncated inside the header (10 of 16 bytes)")
    expect(bad((b) => b.subarray(0, 1000))).toThrow("f: truncated: header says 3x28x28 = 2352 bytes of data, file has 984")
    expect(bad((b) => Uint8Array.from([...b, 1, 2]))).toThrow("f: 2 unexpected bytes after the 3x28x28 data")
    expect(bad((b) => b.subarray(0, 2))).toThrow("f: truncated: 2 bytes, not even an IDX header")
  })
})

describe("reading a published file", () => {
  it("accepts gzipped and raw copies whose content matches the checksum", () => {
    expect(readSourceFile(put("a.gz", gzipSync(images)), file("images", images), 10).dims).toEqual([3, 28, 28])
    expect([...readSourceFile(put("b", labels), file("labels", labels), 10).data]).toEqual([0, 9, 4])
  })

  it("names the file and the problem: broken gzip, wrong counts, checksum, labels", () => {
    const gz = gzipSync(images)
    const cut = put("cut.gz", gz.subarray(0, gz.length >> 1))
    expect(() => readSourceFile(cut, file("images", images), 10)).toThrow(
      `${cut}: not a valid gzip file (unexpected end of file); the file is damaged or incomplete: delete it and fetch it again`
    )
    const other = writeIdx([3, 28, 28], new Uint8Array(3 * 784))
    const p = put("other.gz", gzipSync(other))
    expect(() => readSourceFile(p, file("images", images), 10)).toThrow(
      `${p}: checksum mismatch for tiny-images (decompressed): expected sha256 ${sha(images)}, got ${sha(other)}; the file is not the published Fashion-MNIST data`
    )
    const four = writeIdx([4], Uint8Array.from([0, 1, 2, 3]))
    const q = put("four", four)
    expect(() => readSourceFile(q, file("labels", labels), 10)).toThrow(`${q}: holds 4 labels, expected 3`)
    const eleven = writeIdx([3], Uint8Array.from([0, 11, 2]))
    const r = put("eleven", eleven)
    expect(() => readSourceFile(r, file("labels", eleven), 10)).toThrow(`${r}: label 11 at index 1 is not a class (0..9)`)
  })
})

describe("stratified split", () => {
  // 10 classes of different sizes, interleaved
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 10 === 0 ? 0 : i % 10)
  const counts = Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length)

  it("keeps each class's share, covers every index once, and is deterministic", () => {
    const { train, val } = stratify(labels, 10, 0.8, 5)
    for (let c = 0; c < 10; c++) {
      expect([...train].filter((i) => labels[i] === c).length).toBe(Math.round(counts[c]! * 0.8))
    }
    expect(new Set([...train, ...val]).size).toBe(1000)
    expect(train.length + val.length).toBe(1000)
    expect([...train]).toEqual([...train].sort((a, b) => a - b))
    expect(stratify(labels, 10, 0.8, 5)).toEqual({ train, val })
    expect(stratify(labels, 10, 0.8, 6).val).not.toEqual(val)
  })

  it("gathers images and labels by index, and the image set round-trips through files", () => {
    const imgs = Uint8Array.from({ length: 1000 * 4 }, (_, i) => Math.floor(i / 4) % 256)
    const { val } = stratify(labels, 10, 0.8, 5)
    const part = gather(imgs, labels, val, 4)
    expect(part.labels[3]).toBe(labels[val[3]!])
    expect(part.images[3 * 4]).toBe(val[3]! % 256)
    const out = mkdtempSync(join(dir, "set-"))
    writeImageSet(out, { name: "t", classes: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], height: 2, width: 2, channels: 1 }, { val: part })
    const back = readImageSet(out)
    expect(back.splits["val"]!.labels).toEqual(part.labels)
    expect([...back.splits["val"]!.index!]).toEqual([...val])
    expect(back.manifest.splits["val"]!.perClass.reduce((a, b) => a + b)).toBe(val.length)
  })
})
