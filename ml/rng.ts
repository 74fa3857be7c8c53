/**
 * Seeded randomness for splits and augmentation: the same seed gives the same stream on every machine.
 * splitmix32 mixes (seed, stream) into independent starting states; mulberry32 generates from there.
 */

const mix = (x: number): number => {
  x = (x + 0x9e3779b9) | 0
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
}

/** A generator for (seed, ...stream ids), e.g. rng(seed, epoch). */
export const rng = (seed: number, ...stream: ReadonlyArray<number>): Rng => {
  let s = mix(seed >>> 0)
  for (const x of stream) s = mix(s ^ (x >>> 0))
  const next = () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}

/** Fisher-Yates, in place. */
export const shuffle = <T extends { length: number; [i: number]: any }>(a: T, r: Rng): T => {
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    const t = a[i]
    a[i] = a[j]
    a[j] = t
  }
  return a
}
