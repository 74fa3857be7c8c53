// Writes a deterministic sample: `rows` pseudo-random measurements per class, seeded.
import { writeFileSync } from "node:fs"
import { join } from "node:path"

const { rows, seed, classes } = JSON.parse(process.env.PIPE_PARAMS)
let s = seed >>> 0
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
const lines = ["class,value"]
for (let c = 0; c < classes; c++) for (let i = 0; i < rows; i++) lines.push(`${c},${(c + rand() * 2).toFixed(4)}`)
writeFileSync(join(process.env.PIPE_OUT, "data.csv"), `${lines.join("\n")}\n`)
console.log(`wrote ${lines.length - 1} rows`)
