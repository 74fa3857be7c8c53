/**
 * The promotion book of a halving search, driven as the runner drives it: trials finish in some order, each
 * finished (trial, rung) may let others go on. Synchronous promotion keeps a rung's best 1/eta once it is
 * complete; asynchronous promotion (ASHA) lets a trial go on as soon as it is among the best 1/eta of the results
 * taken so far, and takes them in a fixed order, so its decisions are the same whatever order trials finish in.
 */
import { describe, expect, it } from "vitest"
import { Promotions, rungEpochs } from "../../../pipelines/halving.js"
import type { Point } from "../../../pipelines/sweep.js"
import type { PointResult } from "../../../pipelines/sweepRunner.js"

const trials = (n: number): Array<Point> => Array.from({ length: n }, (_, index) => ({ index, params: { "train.lr": index }, overrides: [] }))

/** A small deterministic generator (mulberry32), for completion orders. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Drive {
  /** Per rung (1-based from the second): the trials that went on to it, in the order they did. */
  readonly promoted: Array<Array<number>>
  /** The (trial, rung) pairs in the order they finished. */
  readonly finished: Array<[number, number]>
}

/**
 * Runs a search on paper: `metric(trial, rung)` is what a trial reaches at a rung (null: it failed); up to `jobs`
 * (trial, rung) pairs are running, a promoted one taken before a new trial, and `order` picks which of the running
 * ones finishes next.
 */
const drive = (
  n: number,
  rungs: number,
  eta: number,
  asynchronous: boolean,
  metric: (trial: number, rung: number) => number | null,
  jobs: number,
  order: (running: number) => number
): Drive => {
  const points = trials(n)
  const book = new Promotions(points, rungs, eta, "max", asynchronous)
  const promoted: Array<Array<number>> = Array.from({ length: rungs }, () => [])
  const finished: Array<[number, number]> = []
  const waiting: Array<{ point: Point; rung: number }> = []
  const running: Array<{ point: Point; rung: number }> = []
  let next = 0
  const fill = () => {
    while (running.length < jobs) {
      if (waiting.length) running.push(waiting.shift()!)
      else if (next < n) running.push({ point: points[next++]!, rung: 0 })
      else break
    }
  }
  fill()
  while (running.length > 0) {
    const [job] = running.splice(order(running.length), 1)
    const m = metric(job!.point.index, job!.rung)
    const result: PointResult = { point: job!.point, status: m === null ? "failed" : "ok", metric: m, ms: 0, experiment: 0 }
    finished.push([job!.point.index, job!.rung])
    for (const p of book.done(job!.rung, result)) {
      promoted[p.rung]!.push(p.point.index)
      waiting.push(p)
    }
    fill()
  }
  return { promoted, finished }
}

/** Trial i's figure: a fixed shuffle of 0..n-1, plus a little per rung. */
const scores = (n: number, seed: number) => {
  const r = rng(seed)
  const base = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5)
  return (trial: number, rung: number) => base[trial]! / n + rung * 0.001
}

const sorted = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)
const inOrder = () => 0
const random = (seed: number) => {
  const r = rng(seed)
  return (k: number) => Math.floor(r() * k)
}

describe("rungs", () => {
  it("are min, min*eta, ... up to max", () => {
    expect(rungEpochs(1, 9, 3)).toEqual([1, 3, 9])
    expect(rungEpochs(1, 27, 3)).toEqual([1, 3, 9, 27])
    expect(rungEpochs(2, 10, 3)).toEqual([2, 6, 10])
    expect(rungEpochs(5, 5, 3)).toEqual([5])
  })
})

describe("synchronous promotion", () => {
  it("keeps a rung's best 1/eta once all of it is in, whatever order it finished in", () => {
    const metric = scores(27, 1)
    const best = (k: number) => sorted(Array.from({ length: 27 }, (_, i) => i).sort((a, b) => metric(b, 0) - metric(a, 0)).slice(0, k))
    for (const seed of [1, 2, 3]) {
      const d = drive(27, 3, 3, false, metric, 4, random(seed))
      expect(sorted(d.promoted[1]!)).toEqual(best(9))
      expect(sorted(d.promoted[2]!)).toEqual(best(3))
      // No trial of the second rung finished before the last of the first.
      const lastFirst = d.finished.findLastIndex(([, r]) => r === 0)
      expect(d.finished.findIndex(([, r]) => r === 1)).toBeGreaterThan(lastFirst)
    }
  })

  it("takes the best one on when a rung has fewer trials than eta, and never a failed one", () => {
    const d = drive(2, 2, 3, false, (t) => (t === 0 ? 0.5 : 0.7), 1, inOrder)
    expect(d.promoted[1]).toEqual([1])
    const failed = drive(6, 2, 3, false, (t) => (t === 5 ? null : t / 10), 2, inOrder)
    expect(sorted(failed.promoted[1]!)).toEqual([3, 4])
  })
})

describe("asynchronous promotion", () => {
  it("lets a trial go on before its rung is complete", () => {
    const d = drive(27, 3, 3, true, scores(27, 4), 3, inOrder)
    const firstPromoted = d.finished.findIndex(([, r]) => r === 1)
    const lastFirst = d.finished.findLastIndex(([, r]) => r === 0)
    expect(firstPromoted).toBeGreaterThanOrEqual(0)
    expect(firstPromoted).toBeLessThan(lastFirst)
  })

  it("makes the same promotions in the same order whatever order the trials finish in, and at any number of jobs", () => {
    const metric = scores(27, 5)
    const reference = drive(27, 3, 3, true, metric, 2, inOrder).promoted
    for (const jobs of [2, 3, 8, 27]) {
      for (const seed of [11, 12, 13, 14]) expect(drive(27, 3, 3, true, metric, jobs, random(seed)).promoted).toEqual(reference)
    }
    // It is the sequential rule: at each result of the first rung taken in trial order, the best floor(n/3) so far go on.
    const expected: Array<number> = []
    for (let k = 1; k <= 27; k++) {
      const top = Array.from({ length: k }, (_, i) => i)
        .sort((a, b) => metric(b, 0) - metric(a, 0))
        .slice(0, Math.floor(k / 3))
      for (const t of top.sort((a, b) => metric(b, 0) - metric(a, 0))) if (!expected.includes(t)) expected.push(t)
    }
    expect(reference[1]).toEqual(expected)
  })

  it("promotes at least the trials synchronous promotion would", () => {
    for (const seed of [21, 22, 23]) {
      const metric = scores(27, seed)
      const a = drive(27, 3, 3, true, metric, 4, random(seed))
      const s = drive(27, 3, 3, false, metric, 4, random(seed))
      expect(a.promoted[1]).toEqual(expect.arrayContaining(s.promoted[1]!))
      expect(a.promoted[1]!.length).toBeGreaterThanOrEqual(9)
    }
  })

  it("still takes the best one on when too few trials ran for a promotion along the way", () => {
    expect(drive(2, 3, 3, true, (t, r) => t + r, 2, random(3)).promoted).toEqual([[], [1], [1]])
  })
})
