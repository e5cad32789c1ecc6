import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { add } from '../dist/fixtures/tasks.js'

t.test('submit → result on the LocalExecutor', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j` })
  const job = await ex.submit(add, 2, 3)
  t.equal(await job.result(), 5)
  t.equal(job.state, 'COMPLETED')
  await ex.shutdown()
})
