/**
 * `pipe diff A B`'s core: what the two references name, two experiments or two runs, and how they differ.
 * `e12`, or a name or tag that names no run, is an experiment; anything else is a run (see Queries.runOf).
 */
import { RefError } from "./errors.js"
import { diffExperiments, type ExperimentDiff } from "./expDiff.js"
import type { ExperimentInfo, Experiments } from "./experiments.js"
import type { Queries } from "./queries.js"
import { diffRuns, type RunDiff } from "./runDiff.js"
import type { RunInfo } from "./runInfo.js"

export type Comparison =
  | { readonly _tag: "experiments"; readonly a: ExperimentInfo; readonly b: ExperimentInfo; readonly diff: ExperimentDiff }
  | { readonly _tag: "runs"; readonly a: RunInfo; readonly b: RunInfo; readonly diff: RunDiff }

type Side = { readonly _tag: "experiment"; readonly e: ExperimentInfo } | { readonly _tag: "run"; readonly run: RunInfo }

/**
 * What resolving a reference needs besides the store: the pipeline stage ids refer to, and the content hash of
 * the file a reference names, if it names one (the caller hashes it: this module does no file IO).
 */
export interface RefOptions {
  readonly pipeline: string | undefined
  readonly fileHash: (text: string) => string | undefined
}

type Parts = { readonly queries: Queries; readonly experiments: Experiments }

const side = (store: Parts, text: string, opts: RefOptions): Side => {
  if (/^e\d+$/.test(text)) {
    const e = store.experiments.resolve(text)
    if (!e) throw new RefError(`there is no experiment ${text} in this store (pipe exps lists them)`)
    return { _tag: "experiment", e }
  }
  try {
    const fileHash = opts.fileHash(text)
    const run = store.queries.runOf(text, { ...(opts.pipeline !== undefined ? { pipeline: opts.pipeline } : {}), ...(fileHash ? { fileHash } : {}) })
    return { _tag: "run", run }
  } catch (notARun) {
    // A name or tag that names no run: an experiment, preferably of this pipeline.
    const e = store.experiments.resolve(text, opts.pipeline) ?? store.experiments.resolve(text)
    if (e) return { _tag: "experiment", e }
    throw notARun
  }
}

/** Compares what `a` and `b` name: both experiments or both runs, else a RefError says which is which. */
export const compare = (store: Parts, a: string, b: string, opts: RefOptions): Comparison => {
  const [sa, sb] = [side(store, a, opts), side(store, b, opts)]
  if (sa._tag === "experiment" && sb._tag === "experiment") return { _tag: "experiments", a: sa.e, b: sb.e, diff: diffExperiments(sa.e, sb.e) }
  if (sa._tag === "run" && sb._tag === "run") return { _tag: "runs", a: sa.run, b: sb.run, diff: diffRuns(sa.run, sb.run) }
  const [exp, run] = sa._tag === "experiment" ? [a, b] : [b, a]
  throw new RefError(`${exp} is an experiment and ${run} a run: compare two experiments (e12 e14) or two runs (#12 #14)`)
}
