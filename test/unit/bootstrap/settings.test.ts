import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot, REPO_ROOT, resolveSettings, SettingsError } from '../../../scripts/lib/config/settings.js';
import { ROOT } from '../../helpers/entry-point.js';

describe('findRepoRoot', () => {
  it('finds the checkout from the settings module and from deeper folders (a bundled entry point)', () => {
    expect(REPO_ROOT).toBe(ROOT);
    expect(findRepoRoot(join(ROOT, '.cache/test-entries/scripts'))).toBe(ROOT);
  });
  it('says so outside a checkout', () => {
    expect(() => findRepoRoot(tmpdir())).toThrow(/no versions\.json above .*: not inside a mailkind checkout/);
  });
});

describe('resolveSettings: defaults <- env <- flags', () => {
  it('has the docs/contract.md names, ports and paths by default', () => {
    const s = resolveSettings({}, {}, '/repo');
    expect(s).toMatchObject({ cluster: 'mailkind', context: 'kind-mailkind', namespace: 'mailkind', profile: 'full', external: false, host: '127.0.0.1' });
    expect(s.ports).toEqual({ kumoHttp: 8000, kumoInbound: 2525, kumoRelay: 2587, sinkHttp: 8025, mailmanRest: 8001, mailmanWeb: 8080 });
    expect(s.registry).toEqual({ name: 'kind-registry', port: 5001 });
    expect(s.paths).toMatchObject({ state: '/repo/.mailkind', secrets: '/repo/.mailkind/secrets.json', manifests: '/repo/manifests', kindConfig: '/repo/manifests/kind/cluster.yaml' });
  });

  it('env overrides defaults and flags override env; the context follows the cluster name', () => {
    const s = resolveSettings({ MAILKIND_CLUSTER: 'envname', MAILKIND_PORT_SINK_HTTP: '18025', MAILKIND_PROFILE: 'minimal' }, { cluster: 'flagname' }, '/repo');
    expect(s.cluster).toBe('flagname');
    expect(s.context).toBe('kind-flagname');
    expect(s.ports.sinkHttp).toBe(18025);
    expect(s.paths.manifests).toBe('/repo/manifests/profiles/minimal');
  });

  it('a context that is not kind-<cluster> means an external cluster', () => {
    expect(resolveSettings({}, { context: 'gke_prod' }).external).toBe(true);
    expect(resolveSettings({ MAILKIND_CLUSTER: 'x' }, { context: 'kind-x' }).external).toBe(false);
  });

  it.each([
    [{ MAILKIND_PORT_KUMO_HTTP: '80000' }, {}, /MAILKIND_PORT_KUMO_HTTP="80000" is not a port number/],
    [{ MAILKIND_PORT_KUMO_HTTP: 'abc' }, {}, /not a port number/],
    [{ MAILKIND_PORT_KUMO_HTTP: '8025' }, {}, /host port 8025 is given to both kumoHttp and sinkHttp/],
    [{ MAILKIND_REGISTRY_PORT: '8000' }, {}, /MAILKIND_REGISTRY_PORT 8000 is also the kumoHttp host port/],
    [{}, { cluster: 'Bad_Name' }, /cluster name "Bad_Name" \(flag\) is not a valid name/],
    [{ MAILKIND_NAMESPACE: '-x' }, {}, /namespace "-x" \(MAILKIND_NAMESPACE\)/],
    [{}, { profile: 'huge' }, /profile "huge" \(flag\) is unknown: use full or minimal/],
  ])('rejects %j %j with a message naming the source', (env, flags, message) => {
    expect(() => resolveSettings(env, flags)).toThrow(SettingsError);
    expect(() => resolveSettings(env, flags)).toThrow(message);
  });
});
