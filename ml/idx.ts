/**
 * The IDX format (LeCun's MNIST files): magic 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, data.
 * Reading validates everything a damaged file can get wrong, with a message that names the file; writing
 * exists for tests that make small synthetic data sets.
 */

export class IdxError extends Error {}

export interface Idx {
  readonly dims: ReadonlyArray<number>
  /** A view into the file's bytes (no copy). */
  readonly data: Uint8Array
}

const UBYTE = 0x08

export const parseIdx = (bytes: Uint8Array, name: string, expectedDims: number): Idx => {
  if (bytes.length < 4) throw new IdxError(`${name}: truncated: ${bytes.length} bytes, not even an IDX header`)
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxError(
      `${name}: not an IDX file (magic number starts ${hex(bytes[0]!)} ${hex(bytes[1]!)}, expected 0x00 0x00)`
    )
  }
  if (bytes[2] !== UBYTE) throw new IdxError(`${name}: unsupported IDX element type ${hex(bytes[2]!)} (expected 0x08, unsigned bytes)`)
  const ndims = bytes[3]!
  if (ndims !== expectedDims) {
    const magic = (UBYTE << 8) | expectedDims
    throw new IdxError(
      `${name}: wrong magic number 0x${(((bytes[2]! << 8) | ndims) >>> 0).toString(16).padStart(8, "0")} (${ndims} dimensions), expected 0x${magic
        .toString(16)
        .padStart(8, "0")} (${expectedDims})`
    )
  }
  const header = 4 + 4 * ndims
  if (bytes.length < header) throw new IdxError(`${name}: truncated inside the header (${bytes.length} of ${header} bytes)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false))
  const size = dims.reduce((a, b) => a * b, 1)
  const have = bytes.length - header
  if (have < size) throw new IdxError(`${name}: truncated: header says ${dims.join("x")} = ${size} bytes of data, file has ${have}`)
  if (have > size) throw new IdxError(`${name}: ${have - size} unexpected bytes after the ${dims.join("x")} data`)
  return { dims, data: bytes.subarray(header) }
}

export const writeIdx = (dims: ReadonlyArray<number>, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + 4 * dims.length + data.length)
  const view = new DataView(out.buffer)
  out[2] = UBYTE
  out[3] = dims.length
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false))
  out.set(data, 4 + 4 * dims.length)
  return out
}

const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`
