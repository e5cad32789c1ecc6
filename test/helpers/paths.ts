// Where things are, for the tests: the repository, the built code (dist/) they import, the fixtures.
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository's root (no trailing slash). */
export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const DIST = path.join(ROOT, 'dist')
/** Path of a built file, e.g. distPath('worker/main.js'). */
export const distPath = (rel: string): string => path.join(DIST, rel)
/** File URL of a built module, e.g. distUrl('lib/index.js'), for scripts a test writes. */
export const distUrl = (rel: string): string => pathToFileURL(distPath(rel)).href
/** The sources of the fixtures (task modules, golden files, fake commands). */
export const FIXTURES = path.join(ROOT, 'fixtures')
/** The fake Slurm commands (fixtures/fake-slurm; their state is in $FAKE_SLURM_DIR). */
export const FAKE_SLURM_BIN = path.join(FIXTURES, 'fake-slurm')
/** The worker a batch script runs on a node. */
export const WORKER_MAIN = distPath('worker/main.js')
/** The `submitit-ts` command. */
export const CLI = distPath('lib/cli.js')
export const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')
export const TSX_CLI = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs')
