import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AuditUnavailableError, blockingFindings, fetchAdvisories, formatFinding, type BulkAdvisories } from '../src/supply-chain';

/** A registry stand-in that answers the bulk endpoint with `answer` and records what it was asked. */
async function fakeRegistry(answer: { status: number; body: string }) {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      asked.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, asked, close: () => new Promise((r) => server.close(r)) };
}

const FABRICATED: BulkAdvisories = {
  'left-pad': [
    { id: 9001, title: 'Fabricated: remote code execution', severity: 'critical', vulnerable_versions: '<1.3.1', url: 'https://example.test/9001' },
    { id: 9002, title: 'Fabricated: low', severity: 'low', vulnerable_versions: '*' },
  ],
  jose: [{ id: 9003, title: 'Fabricated: fixed long ago', severity: 'high', vulnerable_versions: '<2.0.0' }],
};

// The check against the real registry is registry/supply-chain-registry.test.ts: it needs a
// registry that serves advisories, which the test command's machines do not have.
describe('supply chain: advisories of the published packages’ production dependencies', () => {
  it('fails on a fabricated high or critical advisory that covers an installed version, and only then', () => {
    const deps = { 'left-pad': ['1.3.0'], jose: ['6.2.18'] };
    const findings = blockingFindings(deps, FABRICATED);
    expect(findings.map(formatFinding)).toEqual(['critical: left-pad@1.3.0 — Fabricated: remote code execution (9001, https://example.test/9001)']);
    expect(blockingFindings({ 'left-pad': ['1.3.1'], jose: ['6.2.18'] }, FABRICATED)).toEqual([]);
  });

  it('asks the registry’s bulk endpoint with the installed versions, and fails when it cannot answer', async () => {
    const ok = await fakeRegistry({ status: 200, body: JSON.stringify(FABRICATED) });
    try {
      const advisories = await fetchAdvisories(ok.url, { 'left-pad': ['1.3.0'] });
      expect(ok.asked).toEqual(['POST /-/npm/v1/security/advisories/bulk {"left-pad":["1.3.0"]}']);
      expect(blockingFindings({ 'left-pad': ['1.3.0'] }, advisories)).toHaveLength(1);
    } finally {
      await ok.close();
    }
    for (const answer of [{ status: 405, body: '' }, { status: 200, body: 'not json' }, { status: 200, body: '{"x":[{"nope":1}]}' }]) {
      const bad = await fakeRegistry(answer);
      try {
        await expect(fetchAdvisories(bad.url, { a: ['1.0.0'] })).rejects.toBeInstanceOf(AuditUnavailableError);
      } finally {
        await bad.close();
      }
    }
    await expect(fetchAdvisories('http://127.0.0.1:9/', { a: ['1.0.0'] }, 2_000)).rejects.toThrow(/could not be reached/);
  });

});
