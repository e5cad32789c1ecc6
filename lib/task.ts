// submitit-ts/task: what a task module needs, and nothing else. A job imports its task's module
// first thing (on a node, in every pool thread); importing the whole library there costs tens of
// milliseconds of CPU per job for executors it never uses. Same modules as the main entry, so
// `task` and `JobEnvironment` from either are the same objects.
export { task, type Task, type TaskLike, type TaskOptions } from './core/task.js'
export { serializable } from './core/values.js'
export { JobEnvironment, type JobEnvironmentInfo } from './core/environment.js'
export { saveCheckpoint } from './core/checkpoint.js'
