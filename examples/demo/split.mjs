// Splits data.csv into train.csv and test.csv: every `1/ratio`-th row per class goes to test... deterministically.
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const { ratio } = JSON.parse(process.env.PIPE_PARAMS)
const [header, ...rows] = readFileSync(join(process.env.PIPE_IN_DATA, "data.csv"), "utf8").trim().split("\n")
const train = [header]
const test = [header]
rows.forEach((r, i) => ((i % 100) / 100 < ratio ? train : test).push(r))
writeFileSync(join(process.env.PIPE_OUT, "train.csv"), `${train.join("\n")}\n`)
writeFileSync(join(process.env.PIPE_OUT, "test.csv"), `${test.join("\n")}\n`)
console.log(`train ${train.length - 1}, test ${test.length - 1}`)
