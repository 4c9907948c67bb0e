// The manifest rules catch what they claim to: each test breaks a small valid stack in one way
// and expects the finding (object, field, fix), and the valid stack yields none.
import { describe, expect, it } from 'vitest';
import {
  checkCidrEnv,
  checkConfigReferences,
  checkEnvEqualsReplicas,
  checkGeneratedConfigMaps,
  checkHostPorts,
  checkPolicy,
  checkReadmeContract,
  checkSecretTable,
  checkServiceSelectors,
  checkServiceTargetPorts,
  checkStatefulSetServices,
  checkVolumes,
  checkWorkloadSelectors,
} from './lib/checks.js';
import { GiB, MiB, parseQuantity, selectorMatches, type Finding, type K8sObject } from './lib/k8s.js';
import { nearest, pointerToPath } from './lib/schema.js';
import { checkBudget, checkContainers, checkNoCredentials, resourceTotals, type ContainerPolicy } from './lib/security.js';
import {
  luaGetenv,
  parseImageRef,
  parseKustomization,
  parseReadmeHostPorts,
  parseReadmePolicyEnv,
  parseReadmeSecrets,
  parseReadmeServices,
  referencedPolicyFiles,
  type KindConfig,
} from './lib/sources.js';

function container(name: string, image: string, ports: { name: string; containerPort: number }[]) {
  return {
    name,
    image,
    ports,
    readinessProbe: { tcpSocket: { port: ports[0]?.name ?? 8080 } },
    livenessProbe: { tcpSocket: { port: ports[0]?.name ?? 8080 } },
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    env: [] as Record<string, unknown>[],
    volumeMounts: [] as Record<string, unknown>[],
  };
}

const podSecurity = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } };

/** A small stack that passes every rule. */
function stack() {
  const web = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'front' } },
        spec: {
          securityContext: podSecurity,
          containers: [container('app', 'example/web:1.2.3', [{ name: 'http', containerPort: 8080 }])],
          volumes: [
            { name: 'cfg', configMap: { name: 'web-config-5t2mb8c9kf' } },
            { name: 'data', persistentVolumeClaim: { claimName: 'web-data' } },
          ] as Record<string, unknown>[],
        },
      },
    },
  };
  web.spec.template.spec.containers[0]?.volumeMounts.push({ name: 'cfg', mountPath: '/etc/web' }, { name: 'data', mountPath: '/data' });
  web.spec.template.spec.containers[0]?.env.push(
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    { name: 'DB_URL', value: 'postgresql://u:$(DB_PASSWORD)@db:5432/x' },
  );
  const db = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'ns' },
    spec: {
      replicas: 2,
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { labels: { app: 'db' } },
        spec: {
          securityContext: podSecurity,
          containers: [container('db', 'example/db:16', [{ name: 'pg', containerPort: 5432 }])],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }],
    },
  };
  db.spec.template.spec.containers[0]?.volumeMounts.push({ name: 'data', mountPath: '/var/lib/db' });
  db.spec.template.spec.containers[0]?.env.push({ name: 'PEERS', value: '2' }, { name: 'NETS', value: '10.244.0.0/16,10.96.0.0/16' });
  const objects = [
    web,
    db,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'ns' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'ns' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432, targetPort: 5432 }] } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-nodeport', namespace: 'ns' },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }] },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config-5t2mb8c9kf', namespace: 'ns' }, data: { 'app.cfg': 'x = 1\n' } },
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'web-data', namespace: 'ns' }, spec: { accessModes: ['ReadWriteOnce'] } },
  ];
  return { objects: objects as K8sObject[], web, db };
}

const SECRETS = new Map([['db', new Set(['password'])]]);
const KIND: KindConfig = {
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/16',
  nodeImages: [],
  portMappings: [{ containerPort: 30080, hostPort: 8080, listenAddress: '127.0.0.1' }],
};
const POLICY: ContainerPolicy = {
  images: [
    { name: 'example/web', newTag: '1.2.3' },
    { name: 'example/db', newTag: '16' },
  ],
  rootExceptions: [],
};

function allFindings(objects: K8sObject[]): Finding[] {
  return [
    ...checkWorkloadSelectors(objects),
    ...checkServiceSelectors(objects),
    ...checkServiceTargetPorts(objects),
    ...checkConfigReferences(objects, SECRETS),
    ...checkVolumes(objects),
    ...checkStatefulSetServices(objects),
    ...checkHostPorts(objects, KIND, [{ hostPort: 8080, nodePort: 30080, service: 'web-nodeport', servicePort: 80 }]),
    ...checkContainers(objects, POLICY),
    ...checkNoCredentials(objects),
    ...checkEnvEqualsReplicas(objects, { object: 'StatefulSet/db', container: 'db', env: 'PEERS' }, 'StatefulSet/db'),
    ...checkCidrEnv(objects, KIND, 'NETS'),
  ];
}

describe('the valid fixture', () => {
  it('has no findings', () => {
    expect(allFindings(stack().objects)).toEqual([]);
  });
});

describe('cross-reference rules', () => {
  it('reports a Service whose targetPort no selected container has', () => {
    const { objects } = stack();
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'web') as unknown as { spec: { ports: { targetPort: string | number }[] } };
    const port = svc.spec.ports[0];
    if (port) port.targetPort = 'htp';
    expect(checkServiceTargetPorts(objects)).toEqual([
      expect.objectContaining({ object: 'Service/web', field: 'spec.ports[http].targetPort', problem: expect.stringContaining('"htp"/TCP is not a container port of Deployment/web (has: http=8080)') as unknown }),
    ]);
    if (port) port.targetPort = 9090;
    expect(checkServiceTargetPorts(objects)[0]?.problem).toContain('9090/TCP');
  });

  it('reports a workload selector that misses its own template, and a Service that selects nothing', () => {
    const { objects, web } = stack();
    web.spec.selector.matchLabels.app = 'webb';
    expect(checkWorkloadSelectors(objects)).toEqual([expect.objectContaining({ object: 'Deployment/web', field: 'spec.selector' })]);
    web.spec.template.metadata.labels.app = 'other';
    expect(checkServiceSelectors(objects).map((f) => f.object)).toEqual(['Service/web', 'Service/web-nodeport']);
  });

  it('reports missing ConfigMaps, Secrets and keys, including un-suffixed generator names', () => {
    const { objects, web } = stack();
    const spec = web.spec.template.spec;
    spec.volumes[0] = { name: 'cfg', configMap: { name: 'web-config' } };
    spec.containers[0]?.env.push(
      { name: 'A', valueFrom: { secretKeyRef: { name: 'db', key: 'pasword' } } },
      { name: 'B', valueFrom: { secretKeyRef: { name: 'nope', key: 'x' } } },
      { name: 'C', valueFrom: { configMapKeyRef: { name: 'web-config-5t2mb8c9kf', key: 'missing' } } },
      { name: 'D', valueFrom: { configMapKeyRef: { name: 'opt', key: 'x', optional: true } } },
    );
    const findings = checkConfigReferences(objects, SECRETS);
    expect(findings.map((f) => `${f.field}: ${f.problem}`)).toEqual([
      expect.stringMatching(/^spec\.template\.spec\.volumes\[cfg\]: ConfigMap "web-config" is not rendered \(rendered: web-config-5t2mb8c9kf\)/),
      expect.stringMatching(/^spec\.template\.spec\.containers\[app\]\.env\[A\]: Secret "db" has no key "pasword"/),
      expect.stringMatching(/^spec\.template\.spec\.containers\[app\]\.env\[B\]: Secret "nope" is not generated/),
      expect.stringMatching(/^spec\.template\.spec\.containers\[app\]\.env\[C\]: ConfigMap "web-config-5t2mb8c9kf" has no key "missing"/),
    ]);
  });

  it('reports a subPath that is no key of the mounted ConfigMap', () => {
    const { objects, web } = stack();
    web.spec.template.spec.containers[0]?.volumeMounts.push({ name: 'cfg', mountPath: '/etc/x.cfg', subPath: 'x.cfg' });
    expect(checkConfigReferences(objects, SECRETS)).toEqual([expect.objectContaining({ field: 'spec.template.spec.containers[app].volumeMounts[cfg].subPath' })]);
  });

  it('reports a missing PVC, an unknown volume mount and a hostPath', () => {
    const { objects, web } = stack();
    const pvc = objects.findIndex((o) => o.kind === 'PersistentVolumeClaim');
    objects.splice(pvc, 1);
    web.spec.template.spec.containers[0]?.volumeMounts.push({ name: 'cache', mountPath: '/cache' });
    web.spec.template.spec.volumes.push({ name: 'host', hostPath: { path: '/' } });
    expect(checkVolumes(objects).map((f) => f.field)).toEqual([
      'spec.template.spec.volumes[data].persistentVolumeClaim.claimName',
      'spec.template.spec.volumes[host].hostPath',
      'spec.template.spec.containers[app].volumeMounts[cache]',
    ]);
  });

  it('reports a StatefulSet governed by a non-headless or missing Service', () => {
    const { objects, db } = stack();
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'db') as unknown as { spec: { clusterIP?: string } };
    delete svc.spec.clusterIP;
    expect(checkStatefulSetServices(objects)).toEqual([expect.objectContaining({ object: 'StatefulSet/db', problem: expect.stringContaining('is not headless') as unknown })]);
    db.spec.serviceName = 'db-headless';
    expect(checkStatefulSetServices(objects)[0]?.problem).toBe('Service "db-headless" is not in the manifests');
  });

  it('reports NodePorts without a kind mapping, stray mappings, LAN listeners and README mismatches', () => {
    const { objects } = stack();
    const kind: KindConfig = { ...KIND, portMappings: [{ containerPort: 30081, hostPort: 8080 }] };
    const findings = checkHostPorts(objects, kind, [{ hostPort: 8080, nodePort: 30080, service: 'web-nodeport', servicePort: 80 }]);
    expect(findings.map((f) => `${f.object} ${f.field}`)).toEqual([
      'Service/web-nodeport spec.ports[http].nodePort',
      'manifests/kind/cluster.yaml extraPortMappings[hostPort=8080] containerPort',
      'manifests/kind/cluster.yaml extraPortMappings[hostPort=8080] listenAddress',
      'manifests/kind/cluster.yaml extraPortMappings[hostPort=8080]',
    ]);
  });

  it('reports env that must agree with a replica count or kind networks', () => {
    const { objects, db } = stack();
    db.spec.replicas = 3;
    expect(checkEnvEqualsReplicas(objects, { object: 'StatefulSet/db', container: 'db', env: 'PEERS' }, 'StatefulSet/db')[0]?.problem).toBe(
      'is "2" but StatefulSet/db has 3 replicas',
    );
    const env = db.spec.template.spec.containers[0]?.env.find((e) => e.name === 'NETS');
    if (env) env.value = '10.0.0.0/8';
    expect(checkCidrEnv(objects, KIND, 'NETS').map((f) => f.problem)).toEqual([
      '"10.0.0.0/8" lacks 10.244.0.0/16 (kind\'s pod subnet)',
      '"10.0.0.0/8" lacks 10.96.0.0/16 (kind\'s service subnet)',
    ]);
  });
});

describe('policy rules', () => {
  const layout = { mountDir: '/etc/policy', repoDir: 'policy', mainEntry: 'init.lua' };
  function policyStack() {
    const { objects, web } = stack();
    const c = web.spec.template.spec.containers[0];
    if (c) {
      Object.assign(c, { command: ['/bin/mta', '--policy', '/etc/policy/init.lua'] });
      c.volumeMounts.push({ name: 'cfg', mountPath: '/etc/policy' });
      c.env.push({ name: 'KNOWN', value: 'x' });
    }
    const cm = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    cm.data = { 'init.lua': '', 'helper.lua': '', 'shaping.toml': '' };
    return objects;
  }

  it('accepts a policy whose env and files are all provided', () => {
    const files = [
      { name: 'init.lua', content: "local a = os.getenv 'KNOWN'\nlocal s = '/etc/policy/shaping.toml'\nlocal h = os.getenv('HOSTNAME')" },
      { name: 'helper.lua', content: '-- os.getenv("ONLY_IN_A_COMMENT")\nreturn {}' },
      { name: 'shaping.toml', content: '' },
    ];
    expect(checkPolicy(policyStack(), files, layout, SECRETS)).toEqual([]);
  });

  it('reports an env var the policy reads but the container lacks, in a module too, and computed names', () => {
    const files = [
      { name: 'init.lua', content: "local a = os.getenv 'KNOWN'\nlocal b = os.getenv(\"MISSING_ONE\")" },
      { name: 'helper.lua', content: 'local c = os.getenv [[MISSING_TWO]]\nlocal d = os.getenv(name)' },
      { name: 'shaping.toml', content: '' },
    ];
    const findings = checkPolicy(policyStack(), files, layout, SECRETS);
    expect(findings.map((f) => f.problem)).toEqual([
      "policy/init.lua reads os.getenv 'MISSING_ONE', which container app does not set",
      "policy/helper.lua reads os.getenv 'MISSING_TWO', which container app does not set",
      '1 call(s) with a computed variable name: this check cannot see which variable is read',
    ]);
    expect(findings[0]).toMatchObject({ object: 'Deployment/web', field: 'spec.template.spec.containers[app].env' });
  });

  it('reports policy files the mounted ConfigMap lacks: referenced ones and left-out ones', () => {
    const files = [
      { name: 'init.lua', content: "local q = '/etc/policy/queues.toml'" },
      { name: 'helper.lua', content: '' },
      { name: 'shaping.toml', content: '' },
      { name: 'listener_domains.toml', content: '' },
    ];
    expect(checkPolicy(policyStack(), files, layout, SECRETS).map((f) => f.field)).toEqual(['data["listener_domains.toml"]', 'data["queues.toml"]']);
  });

  it('reads every literal os.getenv form and ignores comments', () => {
    const src = [
      "os.getenv 'A'",
      'os.getenv "B"',
      "os.getenv('C')",
      'os.getenv ( "D" )',
      'os.getenv [[E]]',
      "-- os.getenv 'COMMENTED'",
      "--[[ os.getenv 'BLOCK' ]]",
      "--[==[ os.getenv 'LEVEL' ]==]",
      'local x = os.getenv(prefix .. "_X")',
    ].join('\n');
    expect(luaGetenv(src)).toEqual({ names: ['A', 'B', 'C', 'D', 'E'], dynamic: 1 });
    expect(referencedPolicyFiles("a = '/etc/policy/x.toml' -- '/etc/policy/y.toml'", '/etc/policy')).toEqual(['x.toml']);
  });
});

describe('security and sizing rules', () => {
  it('reports missing resources and probes, unpinned images and privilege', () => {
    const { objects, web } = stack();
    const c = web.spec.template.spec.containers[0];
    if (!c) throw new Error('fixture');
    c.image = 'example/web:latest';
    c.resources = { requests: { cpu: '50m', memory: '512Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
    delete (c as Partial<typeof c>).livenessProbe;
    Object.assign(c.securityContext, { allowPrivilegeEscalation: true, privileged: true, capabilities: { drop: [], add: ['NET_ADMIN'] } });
    Object.assign(web.spec.template.spec, { securityContext: {}, hostNetwork: true });
    const fields = checkContainers(objects, POLICY).map((f) => f.field.replace('spec.template.spec.containers[app].', ''));
    expect(fields).toEqual([
      'spec.template.spec.hostNetwork',
      'resources.requests.memory',
      'livenessProbe',
      'image',
      'securityContext.allowPrivilegeEscalation',
      'securityContext.privileged',
      'securityContext.capabilities.drop',
      'securityContext.capabilities.add',
      'securityContext.seccompProfile',
      'securityContext.runAsNonRoot',
    ]);
  });

  it('reports images outside the pin list or off their pin, and untagged ones', () => {
    const { objects, web } = stack();
    const c = web.spec.template.spec.containers[0];
    if (!c) throw new Error('fixture');
    for (const [image, problem] of [
      ['other/thing:1', 'is not in the kustomization images list'],
      ['example/web', 'is not pinned'],
      ['example/web:1.2.4', 'differs from the pin 1.2.3'],
    ] as const) {
      c.image = image;
      expect(checkContainers(objects, POLICY).map((f) => f.problem)).toEqual([expect.stringContaining(problem)]);
    }
  });

  it('lets a documented exception run as root with its listed capabilities only', () => {
    const { objects, web } = stack();
    const c = web.spec.template.spec.containers[0];
    if (!c) throw new Error('fixture');
    web.spec.template.spec.securityContext = { runAsNonRoot: false, runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } };
    c.securityContext.capabilities = { drop: ['ALL'], add: ['CHOWN', 'SYS_ADMIN'] } as typeof c.securityContext.capabilities;
    expect(checkContainers(objects, POLICY).map((f) => f.field.split('.').slice(-2).join('.'))).toEqual([
      'capabilities.add',
      'securityContext.runAsNonRoot',
      'securityContext.runAsUser',
    ]);
    const policy = { ...POLICY, rootExceptions: [{ object: 'Deployment/web', container: 'app', reason: 'entrypoint chowns', capabilities: ['CHOWN'] }] };
    expect(checkContainers(objects, policy).map((f) => f.problem)).toEqual(['adds SYS_ADMIN']);
  });

  it('sums requests and limits with replicas and reports a blown budget', () => {
    const totals = resourceTotals(stack().objects);
    expect(totals.limits.memory).toBe(3 * 256 * MiB); // web x1 + db x2
    expect(totals.requests.cpu).toBeCloseTo(0.15);
    expect(checkBudget(totals, { limitsMemory: 512 * MiB, requestsMemory: GiB })).toEqual([
      expect.objectContaining({ object: 'whole stack', problem: expect.stringContaining('768 MiB exceeds the budget 512 MiB (largest: StatefulSet/db 512 MiB') as unknown }),
    ]);
  });

  it('reports Secret objects and literal credentials in env, URLs and ConfigMap files', () => {
    const { objects, web } = stack();
    const c = web.spec.template.spec.containers[0];
    c?.env.push({ name: 'API_TOKEN', value: 'abc123' }, { name: 'DSN', value: 'postgresql://u:hunter22@db/x' });
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'oops' } });
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg2' }, data: { 'm.cfg': '[webservice]\nadmin_pass: hunter2hunter\n', 'p.lua': "local p = os.getenv 'X'\nlocal password = 'swordfish99'" } });
    const findings = checkNoCredentials(objects);
    expect(findings.map((f) => `${f.object} ${f.field}`)).toEqual([
      'Deployment/web spec.template.spec.containers[app].env[API_TOKEN]',
      'Deployment/web spec.template.spec.containers[app].env[DSN]',
      'Secret/oops (object)',
      'ConfigMap/cfg2 data["m.cfg"] line 2',
      'ConfigMap/cfg2 data["p.lua"] line 2',
    ]);
    expect(JSON.stringify(findings)).not.toMatch(/hunter2|swordfish|abc123/);
  });
});

describe('parsers and helpers', () => {
  it('parses image references', () => {
    expect(parseImageRef('postgres:17.10-alpine3.23')).toEqual({ repository: 'postgres', tag: '17.10-alpine3.23' });
    expect(parseImageRef('localhost:5001/x/y')).toEqual({ repository: 'localhost:5001/x/y' });
    expect(parseImageRef('ghcr.io/a/b:1@sha256:ab')).toEqual({ repository: 'ghcr.io/a/b', tag: '1', digest: 'sha256:ab' });
  });

  it('parses quantities and evaluates selectors', () => {
    expect(parseQuantity('100m')).toBeCloseTo(0.1);
    expect(parseQuantity('1')).toBe(1);
    expect(parseQuantity('384Mi')).toBe(384 * MiB);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('abc')).toBeUndefined();
    expect(selectorMatches({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2'] }] }, { a: '1', b: '2' })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'b', operator: 'DoesNotExist' }] }, { b: '2' })).toBe(false);
    expect(selectorMatches({}, { a: '1' })).toBe(false);
  });

  it('turns JSON pointers into paths and suggests field names', () => {
    expect(pointerToPath('/spec/template/spec/containers/0/securityContext')).toBe('spec.template.spec.containers[0].securityContext');
    expect(pointerToPath('/spec/containers/1/ports/0/name', { spec: { containers: [{ name: 'a' }, { name: 'b', ports: [{ containerPort: 1 }] }] } })).toBe(
      'spec.containers[b].ports[0].name',
    );
    expect(nearest('runAsUsr', ['runAsUser', 'runAsGroup', 'fsGroup'])).toBe('runAsUser');
    expect(nearest('completelyDifferent', ['runAsUser'])).toBeUndefined();
  });

  it('reads generator and image pins from a kustomization', () => {
    const k = parseKustomization(
      'images:\n  - { name: a/b, newTag: "1.0" }\n  - { name: c, newName: r/c, digest: "sha256:x" }\nconfigMapGenerator:\n  - { name: p, files: [x.lua] }\n  - { name: q, files: [y], options: { disableNameSuffixHash: true } }\n',
    );
    expect(k.images).toEqual([{ name: 'a/b', newTag: '1.0' }, { name: 'c', newName: 'r/c', digest: 'sha256:x' }]);
    expect(k.configMapGenerators).toEqual([
      { name: 'p', files: ['x.lua'], hashSuffix: true },
      { name: 'q', files: ['y'], hashSuffix: false },
    ]);
    // p rendered without its hash (stale output), q with the hash disabled: neither would roll pods
    const objects = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'q' } },
    ] as K8sObject[];
    expect(checkGeneratedConfigMaps(objects, k).map((f) => f.object)).toEqual(['ConfigMap/p', 'ConfigMap/q']);
    objects[0] = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p-5t2mb8c9kf' } };
    expect(checkGeneratedConfigMaps(objects, k).map((f) => f.object)).toEqual(['ConfigMap/q']);
  });

  it('reads the README contract tables', () => {
    const md = [
      '## Workloads and Services',
      '| workload | Service(s) | ports |',
      '|---|---|---|',
      '| StatefulSet `db` (2 replicas, PVC `data` per pod) | `db` (headless; pods `db-<i>.db`), `db-ro` | 5432 `pg`, 9187 `metrics` |',
      '| Deployment `web` (image `example/web`) | `web` | 80 `http` |',
      '| host port | NodePort | Service port |',
      '| 8080 | 30080 | `web-nodeport` -> web 80 |',
      '## Secrets (generated)',
      '| Secret | keys | used by |',
      '| `db` | `password` | db |',
      '## Environment the KumoMTA policy reads (set by x)',
      '| variable | meaning |',
      '| `A`, `B` | x |',
      '## Next',
      '| `C` | y |',
    ].join('\n');
    expect(parseReadmeServices(md)).toEqual([
      { workloadKinds: ['StatefulSet'], workload: 'db', replicas: 2, pvc: 'data', services: [{ name: 'db', headless: true }, { name: 'db-ro', headless: false }], ports: [{ port: 5432, name: 'pg' }, { port: 9187, name: 'metrics' }] },
      { workloadKinds: ['Deployment'], workload: 'web', image: 'example/web', services: [{ name: 'web', headless: false }], ports: [{ port: 80, name: 'http' }] },
    ]);
    expect(parseReadmeHostPorts(md)).toEqual([{ hostPort: 8080, nodePort: 30080, service: 'web-nodeport', servicePort: 80 }]);
    expect(parseReadmeSecrets(md)).toEqual([{ name: 'db', keys: ['password'] }]);
    expect(parseReadmePolicyEnv(md)).toEqual(['A', 'B']);
    expect(checkSecretTable([{ name: 'db', keys: ['pass'] }], SECRETS)).toEqual([expect.objectContaining({ field: 'db' })]);

    const { objects } = stack();
    const rows = parseReadmeServices(md);
    const findings = checkReadmeContract(objects, rows, parseKustomization('images: []'));
    expect(findings.map((f) => `${f.object} ${f.field}: ${f.problem}`)).toEqual([
      'StatefulSet/db containers[].ports: has no port 9187 named "metrics"',
      'Service/db spec.ports: has no port 9187 named "metrics"',
      'Service/db-ro (object): is in the README table but not rendered',
      'Deployment/web containers[].ports: has no port 80 named "http"',
    ]);
  });
});
