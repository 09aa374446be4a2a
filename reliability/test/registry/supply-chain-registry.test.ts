// Supply chain against the real registry (`pnpm test:reliability`): no high or critical
// advisory in what the published packages depend on. It needs a registry that serves the
// bulk advisory endpoint (BYOK_AUDIT_REGISTRY, or the npm config's registry); where none
// answers it fails, saying so. The logic it relies on is tested in ../supply-chain.test.ts.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeFigures } from '../../src/run-mode';
import { blockingFindings, configuredRegistry, fetchAdvisories, formatFinding, productionDependencies } from '../../src/supply-chain';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('supply chain against the real registry', () => {
  it('finds no high or critical advisory in what packages/* depend on (the real registry)', async () => {
    const deps = productionDependencies(root);
    expect(Object.keys(deps)).toEqual(expect.arrayContaining(['jose', 'openid-client', 'cookie', 'lru-cache']));
    const registry = configuredRegistry(root);
    const advisories = await fetchAdvisories(registry, deps);
    const findings = blockingFindings(deps, advisories);
    writeFigures('supply-chain', { registry, packages: Object.keys(deps).length, versions: Object.values(deps).flat().length, advisories: Object.values(advisories).flat().length, blocking: findings.map(formatFinding) });
    expect(findings.map(formatFinding)).toEqual([]);
  }, 90_000);
});
