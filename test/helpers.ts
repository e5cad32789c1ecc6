// The test helpers, by concern, are in test/helpers/ (paths, processes, waiting, files, fake-slurm):
// import them from there. This file only re-exports them for the test files that still import it.
export { listFiles } from './helpers/files.js'
export { distPath, distUrl, DIST, ROOT } from './helpers/paths.js'
export { plainEnv, runNode, type RunResult, startNode, writeScript } from './helpers/processes.js'
export { rejection, until } from './helpers/waiting.js'
