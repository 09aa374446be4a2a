import { describe, expect, it } from 'vitest';
import { findSecrets, secretForms } from '../src/secret-scan';
import type { Secrets } from '../src/world';

const secrets: Secrets = {
  providerKeys: ['AIzaSyREL-ana-canary-00112233445566778899'],
  refreshTokens: ['byok_rt_01a23464-d2a3-755c-a2db-52854f488948.b9WAq2DdRLD9Xn0HLTCf9xpfYRd69Amvova57U--kMg'],
  oauthCodes: ['c0de-Wq2DdRLD9Xn0HLTCf9xpfYRd69Am'],
  signingKeys: ['nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A'],
  masterSecrets: [Buffer.alloc(32, 7).toString('base64')],
};

describe('the leak scan', () => {
  it('finds a planted secret as given and in the encodings a careless write would use', () => {
    for (const [kind, values] of Object.entries(secrets)) {
      for (const form of secretForms(values[0]!)) {
        const leaks = findSecrets(secrets, [{ where: 'a planted row', text: `… ${form} …` }]);
        expect(leaks, `${kind} as ${form}`).toEqual([expect.stringContaining(`${kind} (`)]);
        expect(leaks[0]).not.toContain(values[0]); // the report never prints the secret
      }
    }
    const sealed = Buffer.from(secrets.signingKeys[0]!, 'base64url');
    expect(findSecrets(secrets, [{ where: 'a raw page', text: `xx${sealed.toString('latin1')}xx` }])).toHaveLength(1);
  });

  it('finds nothing where no secret is', () => {
    expect(findSecrets(secrets, [{ where: 'clean', text: 'AIzaSyREL-ana-canary-0011223344556677889 (one digit short) and byok_rt_01a23464' }])).toEqual([]);
  });
});
