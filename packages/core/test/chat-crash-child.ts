// A second byok process for the crash test: it starts a reply, prints "streaming" once the
// first delta arrived, and keeps reading until the parent kills it with SIGKILL.
import { createByok, localKms } from '@byok/core';
import { gemini } from '@byok/gemini';

const [configJson, standInUrl, master, userId, sessionId, leaseMs] = process.argv.slice(2);
const byok = await createByok({
  database: JSON.parse(configJson!) as { sqlite: string } | { postgres: string } | { mysql: string },
  kms: localKms({ keys: master! }),
  providers: [gemini({ baseUrl: standInUrl! })],
  chat: { leaseMs: Number(leaseMs) },
});
let told = false;
for await (const event of byok.chat.send(userId!, sessionId!, { text: 'until I die' })) {
  if (!told && event.chunk.type === 'text-delta') {
    told = true;
    process.stdout.write(`streaming ${event.runId}\n`);
  }
}
process.stdout.write('finished\n');
