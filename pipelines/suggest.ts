/** "Did you mean" suggestions for misspelt stage ids, kinds and keys. */

const distance = (a: string, b: string): number => {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]!
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export const closest = (word: string, candidates: ReadonlyArray<string> | Iterable<string>): string | undefined => {
  candidates = [...candidates]
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase())
    if (d < bestD) {
      best = c
      bestD = d
    }
  }
  const limit = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3))
  if (bestD <= limit) return best
  // A cut-short name ("prep" for "prepare") is a typo too.
  const w = word.toLowerCase()
  return w.length >= 3 ? [...candidates].find((c) => c.toLowerCase().startsWith(w)) : undefined
}

export const didYouMean = (word: string, candidates: Iterable<string>): string => {
  const c = closest(word, candidates)
  return c === undefined ? "" : ` (did you mean '${c}'?)`
}
