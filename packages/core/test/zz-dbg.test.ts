import { it } from 'vitest';
import { Browser, devIssuer, makeByok, startIssuer } from './auth-flow-harness';
it('dbg', async () => {
  const issuer = await startIssuer([{ sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice' }]);
  let now = Date.now() + 31 * 86400000;
  const byok = await makeByok({ memory: true }, [devIssuer(issuer)], {}, { clock: { now: () => now } });
  const b = new Browser(byok);
  const r = await b.signIn('dev', 'alice');
  console.log(r.status, JSON.stringify(r.body));
  await byok.close(); await issuer.close();
});
