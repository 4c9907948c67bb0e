// docs/contract.md against the code that must agree with it: the names and their variables
// (scripts/lib/config/settings.ts), the host ports, the Secrets (scripts/lib/secrets/spec.ts) and
// the test tiers (vitest.config.ts). The manifests tier checks the components and ports against
// the rendered manifests, the sink's component tests the API routes against a running sink.
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import vitestConfig from '../../vitest.config.js';
import { PORT_KEYS, PORTS, REPO_ROOT, resolveSettings } from '../../scripts/lib/config/settings.js';
import { declaredSecretKeys } from '../../scripts/lib/secrets/spec.js';
import { ContractError, contractHostPorts, contractNames, contractSecrets, contractTable, contractTiers, readContract } from '../manifests/lib/contract.js';

const contract = readContract(REPO_ROOT);

describe('docs/contract.md against the code', () => {
  it('names: every default and its environment variable, as settings.ts resolves them', () => {
    const d = resolveSettings({});
    const byName = new Map(contractNames(contract).map((n) => [n.name, n]));
    const want: Record<string, [string, string]> = {
      'kind cluster': [d.cluster, 'MAILKIND_CLUSTER'],
      'kube context': [d.context, 'MAILKIND_CONTEXT'],
      namespace: [d.namespace, 'MAILKIND_NAMESPACE'],
      profile: [d.profile, 'MAILKIND_PROFILE'],
      'host the ports listen on': [d.host, 'MAILKIND_HOST'],
      'local state (secrets, tools, overlays)': ['.mailkind', 'MAILKIND_STATE_DIR'],
      'local image registry port': [String(d.registry.port), 'MAILKIND_REGISTRY_PORT'],
    };
    expect([...byName.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, [value, env]] of Object.entries(want)) expect([byName.get(name)?.default, byName.get(name)?.env], name).toEqual([value, env]);
    expect(d.paths.state).toBe(join(REPO_ROOT, '.mailkind'));
    // and each variable really moves its value
    const moved = resolveSettings({ MAILKIND_CLUSTER: 'c2', MAILKIND_NAMESPACE: 'ns2', MAILKIND_PROFILE: 'minimal', MAILKIND_HOST: '10.0.0.1', MAILKIND_REGISTRY_PORT: '5002' });
    expect([moved.cluster, moved.context, moved.namespace, moved.profile, moved.host, moved.registry.port]).toEqual(['c2', 'kind-c2', 'ns2', 'minimal', '10.0.0.1', 5002]);
    const state = mkdtempSync(join(tmpdir(), 'mailkind-state-'));
    expect(resolveSettings({ MAILKIND_STATE_DIR: state, MAILKIND_CONTEXT: 'other' })).toMatchObject({ context: 'other', paths: { state } });
  });

  it('host ports: port, NodePort and variable of each, as settings.ts has them', () => {
    const have = PORT_KEYS.map((k) => ({ hostPort: PORTS[k].host, nodePort: PORTS[k].nodePort, env: PORTS[k].env, what: PORTS[k].what }));
    expect(contractHostPorts(contract)).toEqual(have);
  });

  it('Secrets: the names and keys scripts/lib/secrets/spec.ts generates', () => {
    const have = new Map([...declaredSecretKeys()].map(([name, keys]) => [name, [...keys]]));
    expect(contractSecrets(contract)).toEqual(have);
  });

  it('test tiers: every vitest project of npm test is a tier marked `npm test`, and back', () => {
    const projects = (vitestConfig.test?.projects ?? []).map((p) => (p as { test?: { name?: string } }).test?.name);
    const tiers = contractTiers(contract);
    expect(tiers.filter((t) => t.inNpmTest).map((t) => t.tier).sort()).toEqual([...projects].sort());
    expect(tiers.map((t) => t.tier)).toContain('e2e');
  });
});

describe('docs/contract.md parsing fails loudly', () => {
  it('a missing file, section, table or malformed row is an error, never fewer checks', () => {
    const empty = mkdtempSync(join(tmpdir(), 'mailkind-no-contract-'));
    expect(() => readContract(empty)).toThrow(ContractError);
    expect(() => readContract(empty)).toThrow(/docs\/contract\.md not found/);
    expect(() => contractHostPorts('# nothing here')).toThrow(/no "## Host ports" section/);
    expect(() => contractHostPorts('## Host ports\n\nprose only\n## Next')).toThrow(/has no table/);
    expect(() => contractHostPorts('## Host ports\n| host port | nodeport | variable | goes to |\n|---|---|---|---|\n| 80x | 1 | V | x |')).toThrow(/"80x" is not a port/);
    expect(() => contractTable('## T\n| a | b |\n|---|---|\n| 1 |', 'T')).toThrow(/row 1 has 1 cells, the header 2/);
    expect(() => contractTable('## T\n| a | b |\n|---|---|\n', 'T')).toThrow(/no header, separator or rows/);
  });
});
