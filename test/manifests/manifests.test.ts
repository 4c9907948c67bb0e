// The manifests tier: render manifests/ as both deploy paths do and prove the result is
// schema-valid (strict), internally consistent, matches manifests/README.md and the kind config,
// and keeps the security and sizing rules. Every test collects all findings first, so one run
// lists every problem with the object, the field and the fix.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { declaredSecretKeys } from '../../scripts/lib/secrets/spec.js';
import { generateSecrets, secretObjects } from '../../scripts/lib/secrets/generate.js';
import {
  checkCidrEnv,
  checkConfigReferences,
  checkEnvEqualsReplicas,
  checkGeneratedConfigMaps,
  checkHostPorts,
  checkPolicy,
  checkPolicyEnvTable,
  checkReadmeContract,
  checkSecretTable,
  checkServiceSelectors,
  checkServiceTargetPorts,
  checkStatefulSetServices,
  checkVolumes,
  checkWorkloadSelectors,
  type PolicyLayout,
} from './lib/checks.js';
import { GiB, formatFinding, ref, type Finding, type K8sObject } from './lib/k8s.js';
import { findRenderer, render } from './lib/render.js';
import { contractComponents, contractHostPorts, readContract } from './lib/contract.js';
import { skipWithout } from '../helpers/prerequisites.js';
import {
  SCHEMA_KUBERNETES_VERSION,
  SCHEMA_PACKAGE,
  SCHEMA_PACKAGE_VERSION,
  StrictValidator,
  installedSchemaPackageVersion,
} from './lib/schema.js';
import { checkBudget, checkContainers, checkNoCredentials, formatTotals, resourceTotals, type RootException } from './lib/security.js';
import {
  parseImageRef,
  parseKindConfig,
  parseKustomization,
  parseReadmeHostPorts,
  parseReadmePolicyEnv,
  parseReadmeSecrets,
  parseReadmeServices,
  type PolicyFile,
} from './lib/sources.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MANIFESTS = join(ROOT, 'manifests');
const NAMESPACE = 'mailkind';

/** An 8 GB laptop: Docker Desktop gives its VM about half, the kind node and its control plane take ~1 GiB of that. */
const BUDGET = { limitsMemory: 4 * GiB, requestsMemory: 2 * GiB };

/** The only containers that may start as root. Each reason is why the image leaves no choice. */
const ROOT_EXCEPTIONS: RootException[] = [
  {
    object: 'Deployment/mailman-core',
    container: 'mailman-core',
    reason:
      "maxking/mailman-core's entrypoint writes /etc/mailman.cfg, chowns /opt/mailman/var and then su-execs to the `mailman` user; started as non-root it fails",
    capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'],
  },
  {
    object: 'Deployment/mailman-web',
    container: 'mailman-web',
    reason:
      "maxking/mailman-web's entrypoint runs collectstatic/migrate, chowns /opt/mailman-web-data and uwsgi drops to the `mailman` user itself; started as non-root it fails",
    capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'],
  },
];

const POLICY: PolicyLayout = { mountDir: '/opt/kumomta/etc/policy', repoDir: 'manifests/base/policy/kumomta', mainEntry: 'init.lua' };

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function policyFiles(): PolicyFile[] {
  const dir = join(ROOT, POLICY.repoDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && !d.name.startsWith('.'))
    .map((d) => ({ name: d.name, content: readFileSync(join(dir, d.name), 'utf8') }));
}

function expectNoFindings(findings: Finding[]): void {
  // one line per problem: object, field, problem, fix
  expect(findings.map(formatFinding), `${findings.length} problem(s)`).toEqual([]);
}

const renderer = findRenderer(ROOT);
const skipReason = skipWithout(
  'skip' in renderer
    ? { what: 'test/manifests (the manifests tier)', reason: renderer.skip, fix: 'install kubectl (https://kubernetes.io/docs/tasks/tools/), or let .ci/run build kustomize into .cache/bin' }
    : undefined,
)
  ? 'no renderer'
  : undefined;

describe.skipIf(skipReason !== undefined)(`manifests/ (rendered with ${'label' in renderer ? renderer.label : 'nothing'})`, () => {
  let objects: K8sObject[] = [];
  let validator: StrictValidator;
  const declared = declaredSecretKeys();
  const kustomization = parseKustomization(read('manifests/base/kustomization.yaml'));
  const kind = parseKindConfig(read('manifests/kind/cluster.yaml'));
  const readme = read('manifests/README.md');

  beforeAll(async () => {
    if (!('file' in renderer)) return;
    objects = await render(renderer, MANIFESTS);
    const types = [...objects, { apiVersion: 'v1', kind: 'Secret' }];
    validator = await StrictValidator.create(ROOT, types);
  }, 120_000);

  it('renders the stack, every object in the namespace (but the Namespace itself)', () => {
    expect(objects.length).toBeGreaterThan(10);
    const findings: Finding[] = objects
      .filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== NAMESPACE)
      .map((o) => ({ object: ref(o), field: 'metadata.namespace', problem: `is ${o.metadata.namespace ?? 'unset'}`, fix: `kustomization namespace: ${NAMESPACE}` }));
    for (const o of objects) {
      if (o.metadata.labels?.['app.kubernetes.io/part-of'] !== 'mailkind') {
        findings.push({ object: ref(o), field: 'metadata.labels', problem: 'lacks app.kubernetes.io/part-of: mailkind', fix: 'keep the kustomization labels: entry' });
      }
    }
    expectNoFindings(findings);
  });

  it(`uses schemas of the Kubernetes version the kind node runs (${SCHEMA_PACKAGE}@${SCHEMA_PACKAGE_VERSION} = v${SCHEMA_KUBERNETES_VERSION})`, () => {
    expect(installedSchemaPackageVersion(ROOT), `${SCHEMA_PACKAGE} changed: update SCHEMA_PACKAGE_VERSION and SCHEMA_KUBERNETES_VERSION from its CHANGELOG`).toBe(
      SCHEMA_PACKAGE_VERSION,
    );
    const minor = SCHEMA_KUBERNETES_VERSION.split('.').slice(0, 2).join('.');
    for (const image of kind.nodeImages) expect(image, 'kind node image vs schema version').toMatch(new RegExp(`^kindest/node:v${minor.replace('.', '\\.')}\\.\\d+@sha256:[0-9a-f]{64}$`));
  });

  it('is valid against the Kubernetes schema, unknown fields included', () => {
    const findings = objects.flatMap((o) => validator.validate(o).map((p) => ({ object: ref(o), field: p.path, problem: p.problem, fix: p.fix })));
    expectNoFindings(findings);
  });

  it('builds generated Secret objects that are schema-valid, in both encodings', () => {
    const secrets = generateSecrets();
    const findings = [...secretObjects(secrets, NAMESPACE), ...secretObjects(secrets, NAMESPACE, { encoding: 'stringData' })].flatMap((o) =>
      validator.validate(o).map((p) => ({ object: `generated Secret/${o.metadata.name}`, field: p.path, problem: p.problem, fix: p.fix })),
    );
    expectNoFindings(findings);
  });

  it('catches an unknown field (the strict layer works on this schema source)', () => {
    const sts = objects.find((o) => o.kind === 'StatefulSet');
    const bad = JSON.parse(JSON.stringify(sts)) as { spec: { template: { spec: { securityContext: Record<string, unknown> } } } };
    bad.spec.template.spec.securityContext.runAsUsr = 999;
    expect(validator.validate(bad)).toContainEqual(expect.objectContaining({ path: 'spec.template.spec.securityContext', fix: 'rename it to "runAsUser"' }));
  });

  it('cross-references resolve: selectors, Service ports, ConfigMaps, Secrets, volumes, governing Services', () => {
    expectNoFindings([
      ...checkWorkloadSelectors(objects),
      ...checkServiceSelectors(objects),
      ...checkServiceTargetPorts(objects),
      ...checkConfigReferences(objects, declared),
      ...checkVolumes(objects),
      ...checkStatefulSetServices(objects),
      ...checkGeneratedConfigMaps(objects, kustomization),
    ]);
  });

  it('matches manifests/README.md: workloads, Services, ports, replicas, Secrets', () => {
    expectNoFindings([
      ...checkReadmeContract(objects, parseReadmeServices(readme), kustomization),
      ...checkSecretTable(parseReadmeSecrets(readme), declared),
    ]);
  });

  it('wires the docs/contract.md host ports: kind extraPortMappings <-> NodePorts <-> Services', () => {
    const table = parseReadmeHostPorts(readme);
    const findings = checkHostPorts(objects, kind, table);
    // throws (and so fails) when docs/contract.md or its table is missing or does not parse
    const contract = contractHostPorts(readContract(ROOT));
    const key = (rows: { hostPort: number; nodePort: number }[]) => rows.map((r) => `${r.hostPort}->${r.nodePort}`).sort().join(', ');
    if (key(contract) !== key(table)) {
      findings.push({
        object: 'manifests/README.md',
        field: 'host port table',
        problem: `host port -> NodePort ${key(table)} differ from docs/contract.md's ${key(contract)}`,
        fix: 'change docs/contract.md, the README table, nodeports.yaml and kind/cluster.yaml together',
      });
    }
    expectNoFindings(findings);
  });

  it('runs the components of docs/contract.md: workload kind, image, replicas and container ports', () => {
    const findings: Finding[] = [];
    for (const c of contractComponents(readContract(ROOT))) {
      const o = objects.find((x) => x.kind === c.workload && x.metadata.name === c.name);
      if (!o) {
        findings.push({ object: `${c.workload}/${c.name}`, field: '(object)', problem: 'is in docs/contract.md "Components" but not rendered', fix: 'render it, or change the contract' });
        continue;
      }
      const spec = o.spec as { replicas?: number; template?: { spec?: { containers?: { image?: string; ports?: { containerPort: number }[] }[] } } };
      const containers = spec.template?.spec?.containers ?? [];
      const images = containers.map((x) => parseImageRef(x.image ?? '').repository);
      if (!images.includes(c.image)) findings.push({ object: ref(o), field: 'containers[].image', problem: `runs ${images.join(', ')}, not ${c.image}`, fix: 'align the image with docs/contract.md' });
      if ((spec.replicas ?? 1) !== c.replicas) findings.push({ object: ref(o), field: 'spec.replicas', problem: `is ${spec.replicas ?? 1}, the contract says ${c.replicas}`, fix: 'change replicas: in manifests/base/kustomization.yaml or the contract' });
      const ports = containers.flatMap((x) => (x.ports ?? []).map((p) => p.containerPort)).sort((a, b) => a - b);
      const want = [...c.ports].sort((a, b) => a - b);
      if (JSON.stringify(ports) !== JSON.stringify(want)) findings.push({ object: ref(o), field: 'containers[].ports', problem: `are ${ports.join(', ')}, the contract says ${want.join(', ')}`, fix: 'align the ports with docs/contract.md' });
    }
    const workloads = objects.filter((o) => /^(Deployment|StatefulSet|DaemonSet)$/.test(o.kind)).map(ref);
    const listed = contractComponents(readContract(ROOT)).map((c) => `${c.workload}/${c.name}`);
    for (const w of workloads) if (!listed.includes(w)) findings.push({ object: w, field: '(object)', problem: 'is rendered but not in docs/contract.md "Components"', fix: 'add it to the contract' });
    expectNoFindings(findings);
  });

  it("sets every env var the KumoMTA policy reads, and ships every policy file it loads", () => {
    expectNoFindings([
      ...checkPolicy(objects, policyFiles(), POLICY, declared),
      ...checkPolicyEnvTable(objects, parseReadmePolicyEnv(readme), POLICY, declared),
      ...checkEnvEqualsReplicas(objects, { object: 'StatefulSet/kumomta', container: 'kumod', env: 'TSA_REPLICAS' }, 'StatefulSet/kumomta-tsa'),
      ...checkCidrEnv(objects, kind, 'RELAY_NETWORKS'),
    ]);
  });

  it('keeps every container pinned, probed, sized and unprivileged (documented root exceptions only)', () => {
    for (const e of ROOT_EXCEPTIONS) {
      const o = objects.find((x) => ref(x) === e.object);
      expect(o, `root exception for ${e.object} names no rendered workload: remove it`).toBeDefined();
    }
    expectNoFindings(checkContainers(objects, { images: kustomization.images, rootExceptions: ROOT_EXCEPTIONS }));
  });

  it('fits an 8 GB laptop: memory limits <= 4 GiB, requests <= 2 GiB (replicas included)', () => {
    const totals = resourceTotals(objects);
    console.log(`resource totals (x replicas):\n${formatTotals(totals)}`);
    expectNoFindings(checkBudget(totals, BUDGET));
  });

  it('holds no Secret object and no literal credential', () => {
    expectNoFindings(checkNoCredentials(objects));
  });

  it('pins every image in the kustomization to an exact release', () => {
    const findings: Finding[] = kustomization.images
      .filter((i) => (i.newTag === undefined && i.digest === undefined) || i.newTag === 'latest')
      .map((i) => ({ object: 'manifests/base/kustomization.yaml', field: `images[${i.name}]`, problem: 'has no exact tag', fix: 'set newTag to a release (never latest)' }));
    for (const i of kustomization.images) {
      const used = objects.some((o) => JSON.stringify(o).includes(`"${i.newName ?? i.name}:`) || JSON.stringify(o).includes(`"${i.newName ?? i.name}@`));
      if (!used) findings.push({ object: 'manifests/base/kustomization.yaml', field: `images[${i.name}]`, problem: 'no container uses it', fix: 'remove the pin or use the image' });
    }
    expectNoFindings(findings);
  });
});

describe.skipIf(skipReason !== undefined)('manifests/profiles/minimal (npm run up --profile minimal)', () => {
  let full: K8sObject[] = [];
  let minimal: K8sObject[] = [];
  let validator: StrictValidator;
  const MAILMAN = ['mailman-core', 'mailman-web', 'postgres'];

  beforeAll(async () => {
    if (!('file' in renderer)) return;
    [full, minimal] = await Promise.all([render(renderer, MANIFESTS), render(renderer, join(MANIFESTS, 'profiles/minimal'))]);
    validator = await StrictValidator.create(ROOT, minimal);
  }, 120_000);

  it('is the full stack minus Mailman and its database, everything else unchanged', () => {
    const names = (objs: K8sObject[]) => objs.map(ref).sort();
    const removed = names(full).filter((r) => !names(minimal).includes(r));
    expect(removed.length).toBeGreaterThan(0);
    for (const r of removed) expect(MAILMAN.some((m) => r.includes(`/${m}`)), `${r} left the minimal profile`).toBe(true);
    for (const o of minimal) expect(MAILMAN.some((m) => o.metadata.name.startsWith(m)), `${ref(o)} is still in the minimal profile`).toBe(false);
    expect(names(minimal).filter((r) => !names(full).includes(r)), 'objects only the minimal profile has').toEqual([]);
    // every object that stays is field for field the full profile's, but for kumomta's replicas
    // (checked by the next test): the profile may drop objects, never quietly change one
    const withoutKumoReplicas = (o: K8sObject): K8sObject => {
      if (o.kind !== 'StatefulSet' || o.metadata.name !== 'kumomta') return o;
      const copy = structuredClone(o) as K8sObject & { spec: Record<string, unknown> };
      delete copy.spec.replicas;
      return copy;
    };
    const changed = minimal
      .filter((o) => {
        const twin = full.find((f) => ref(f) === ref(o));
        return !twin || !isDeepStrictEqual(withoutKumoReplicas(o), withoutKumoReplicas(twin));
      })
      .map(ref);
    expect(changed, 'objects the minimal profile changes (beyond kumomta replicas)').toEqual([]);
  });

  it('runs one kumod and keeps TSA, the sink and Dragonfly', () => {
    const replicas = (name: string) => (minimal.find((o) => o.metadata.name === name && /Set$|Deployment/.test(o.kind))?.spec as { replicas?: number } | undefined)?.replicas;
    expect(replicas('kumomta')).toBe(1);
    expect(replicas('kumomta-tsa')).toBe(1);
    expect(replicas('smtp-sink')).toBe(1);
    expect(replicas('dragonfly')).toBe(1);
  });

  it('is schema-valid and its cross-references resolve', () => {
    expectNoFindings([
      ...minimal.flatMap((o) => validator.validate(o).map((p) => ({ object: ref(o), field: p.path, problem: p.problem, fix: p.fix }))),
      ...checkWorkloadSelectors(minimal),
      ...checkServiceSelectors(minimal),
      ...checkServiceTargetPorts(minimal),
      ...checkConfigReferences(minimal, declaredSecretKeys()),
      ...checkVolumes(minimal),
      ...checkStatefulSetServices(minimal),
    ]);
  });
});
