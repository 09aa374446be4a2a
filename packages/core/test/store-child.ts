// A second process for the store tests. It opens its own store on the given database,
// prints "ready", waits for a line on stdin (the parent releases all children at once so
// they really race), then runs its task and prints a JSON result:
//   migrate                → store.migrate()'s report
//   append <chains> <n>    → n audit appends spread over the comma-separated chains
import { createHash, randomUUID } from 'node:crypto';
import { createStore } from '../src/store/create-store';

const [task, configJson, chainsArg, countArg] = process.argv.slice(2);
const config = JSON.parse(configJson!) as { sqlite: string } | { postgres: string } | { mysql: string };

const store = await createStore({ database: config, migrate: task !== 'migrate' });
await store.migrationStatus(); // connection open before the race
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
try {
  if (task === 'migrate') {
    process.stdout.write(`${JSON.stringify(await store.migrate())}\n`);
  } else if (task === 'append') {
    const started = Date.now();
    const chains = chainsArg!.split(',');
    const count = Number(countArg);
    await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const chain = chains[i % chains.length]!;
        return store.audit.append({
          chain,
          genesisHash: genesis(chain),
          build: (prev) => {
            const id = randomUUID();
            return {
              id,
              chain,
              seq: prev.seq + 1,
              prevHash: prev.hash,
              hash: createHash('sha256').update(`${prev.hash}|${id}`).digest('hex'),
              at: Date.now(),
              actorUserId: null,
              action: 'test.child',
              target: String(process.pid),
              outcome: 'success',
              metadata: '{}',
              personalHmac: null,
            };
          },
        });
      }),
    );
    process.stdout.write(`${JSON.stringify({ appended: count, ms: Date.now() - started })}\n`);
  }
} finally {
  await store.close();
  process.stdin.destroy();
}

function genesis(chain: string): string {
  return createHash('sha256').update(`genesis:${chain}`).digest('hex');
}
