// submitit-ts report <folder> <id> --html out.html: one self-contained page about an array.
import fs from 'node:fs'
import path from 'node:path'
import { reportData } from '../report/data.js'
import { renderReport } from '../report/html.js'
import { CliError, refresherOf, resolveId, type Io } from './common.js'

export async function report(folder: string, id: string, options: { html?: string }, io: Io): Promise<number> {
  if (!options.html) throw new CliError('report needs --html <file> (where to write the page)', 2)
  const target = resolveId(folder, id)
  const data = await reportData(target.record, { folder, refresh: refresherOf(target.record.backend) })
  const file = path.resolve(options.html)
  fs.writeFileSync(file, renderReport(data))
  io.out(file)
  return 0
}
