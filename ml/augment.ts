/**
 * The seed's training-time augmentation, as pure functions on typed arrays: zero-pad and random-crop back to
 * the image size, horizontal flip, optional rotation and brightness jitter, then normalisation to floats
 * ((x/255 - mean) / std, so mean = std = 0.5 maps 0..255 to -1..1). `augmentBatch` applies a policy to many
 * images with a seeded generator and two scratch buffers: no allocation per image or pixel.
 */
import { rng, type Rng } from "./rng.js"

export const POLICY_FORMAT = "pipe-augment/1"

export interface AugmentPolicy {
  readonly format: typeof POLICY_FORMAT
  readonly height: number
  readonly width: number
  /** Zero padding on each side before the random crop back to height x width; 0 disables the crop. */
  readonly pad: number
  /** Probability of a horizontal flip. */
  readonly flip: number
  /** Maximum rotation in degrees (uniform in [-rotate, rotate]); 0 disables it. */
  readonly rotate: number
  /** Brightness factor drawn uniformly from [1 - brightness, 1 + brightness]; 0 disables it. */
  readonly brightness: number
  readonly mean: number
  readonly std: number
  /** Seed of the per-epoch generators: rng(seed, epoch). */
  readonly seed: number
}

/** dst(x, y) = src(x + dx - pad, y + dy - pad), zero outside src: a crop of the zero-padded image at (dx, dy). */
export const padCrop = (src: Uint8Array, dst: Uint8Array, w: number, h: number, pad: number, dx: number, dy: number): void => {
  const ox = dx - pad
  const oy = dy - pad
  for (let y = 0; y < h; y++) {
    const sy = y + oy
    const row = y * w
    if (sy < 0 || sy >= h) {
      dst.fill(0, row, row + w)
      continue
    }
    for (let x = 0; x < w; x++) {
      const sx = x + ox
      dst[row + x] = sx >= 0 && sx < w ? src[sy * w + sx]! : 0
    }
  }
}

export const hflip = (src: Uint8Array, dst: Uint8Array, w: number, h: number): void => {
  for (let y = 0; y < h; y++) {
    const row = y * w
    for (let x = 0; x < w; x++) dst[row + x] = src[row + w - 1 - x]!
  }
}

/** Rotation about the centre by `degrees`, bilinear, zero outside. */
export const rotate = (src: Uint8Array, dst: Uint8Array, w: number, h: number, degrees: number): void => {
  const a = (degrees * Math.PI) / 180
  const cos = Math.cos(a)
  const sin = Math.sin(a)
  const cx = (w - 1) / 2
  const cy = (h - 1) / 2
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // inverse mapping: where in src does dst(x, y) come from
      const sx = cos * (x - cx) + sin * (y - cy) + cx
      const sy = -sin * (x - cx) + cos * (y - cy) + cy
      const x0 = Math.floor(sx)
      const y0 = Math.floor(sy)
      const fx = sx - x0
      const fy = sy - y0
      const at = (xx: number, yy: number) => (xx >= 0 && xx < w && yy >= 0 && yy < h ? src[yy * w + xx]! : 0)
      const v =
        at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy
      dst[y * w + x] = Math.round(v)
    }
  }
}

export const brighten = (src: Uint8Array, dst: Uint8Array, factor: number): void => {
  for (let i = 0; i < src.length; i++) dst[i] = Math.min(255, Math.round(src[i]! * factor))
}

export const normalize = (src: Uint8Array, dst: Float32Array, offset: number, mean: number, std: number): void => {
  const scale = 1 / (255 * std)
  const shift = mean / std
  for (let i = 0; i < src.length; i++) dst[offset + i] = src[i]! * scale - shift
}

/** The random choices for one image. Four draws per image whatever the policy, so streams stay aligned. */
export interface Draw {
  readonly dx: number
  readonly dy: number
  readonly flip: boolean
  readonly degrees: number
  readonly factor: number
}

export const draw = (p: AugmentPolicy, r: Rng): Draw => {
  const dx = r.int(2 * p.pad + 1)
  const dy = r.int(2 * p.pad + 1)
  const flip = r.next() < p.flip
  const u = r.next()
  const v = r.next()
  return { dx, dy, flip, degrees: (u * 2 - 1) * p.rotate, factor: 1 + (v * 2 - 1) * p.brightness }
}

/** The generator for one epoch: the same (seed, epoch) always gives the same augmented batches. */
export const epochRng = (p: AugmentPolicy, epoch: number): Rng => rng(p.seed, epoch)

/**
 * Augments `order.length` images (taken from `images` at the given indices, in that order) into `out`
 * (order.length x height x width floats). Draws come from `r` in order.
 */
export const augmentBatch = (
  p: AugmentPolicy,
  images: Uint8Array,
  order: ArrayLike<number>,
  out: Float32Array,
  r: Rng
): void => {
  const { width: w, height: h } = p
  const n = w * h
  const a = new Uint8Array(n)
  const b = new Uint8Array(n)
  for (let i = 0; i < order.length; i++) {
    const src = images.subarray(order[i]! * n, order[i]! * n + n)
    const d = draw(p, r)
    padCrop(src, a, w, h, p.pad, d.dx, d.dy)
    let cur = a
    let other = b
    if (d.flip) {
      hflip(cur, other, w, h)
      ;[cur, other] = [other, cur]
    }
    if (p.rotate > 0) {
      rotate(cur, other, w, h, d.degrees)
      ;[cur, other] = [other, cur]
    }
    if (p.brightness > 0) {
      brighten(cur, other, d.factor)
      ;[cur, other] = [other, cur]
    }
    normalize(cur, out, i * n, p.mean, p.std)
  }
}

/** Evaluation-time transform: normalisation only. */
export const normalizeBatch = (p: AugmentPolicy, images: Uint8Array, order: ArrayLike<number>, out: Float32Array): void => {
  const n = p.width * p.height
  for (let i = 0; i < order.length; i++) normalize(images.subarray(order[i]! * n, order[i]! * n + n), out, i * n, p.mean, p.std)
}
