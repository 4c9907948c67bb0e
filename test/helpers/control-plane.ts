// A real Kubernetes control plane for tests, without Docker: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (which plays the kubelet of one simulated node),
// built by scripts/provision/kubernetes.sh. Everything listens on free 127.0.0.1 ports, with
// certificates and a kubeconfig made per run in a temp dir. No container ever runs: kwok sets pod
// status (scheduled, Running, Ready, or crashing where a test asks for it), so admission,
// defaulting, validation, controllers and rollouts are the real ones, images and networking are not.
//
// Start it once per test file (beforeAll) or run, never per test: about 5-10 s and 0.6 GB.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Options as ExecaOptions } from 'execa';
import { freePorts } from '../../bench/lib/net.js';
import type { Miss } from './prerequisites.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const PROVISION = 'bash scripts/provision/kubernetes.sh';

interface Pins {
  kubernetes: { version: string };
  etcd: { version: string };
  kwok: { version: string };
}

export type Binary = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'etcd' | 'kwok';

/** Where the provisioning script puts each program (the machine cache, shared by worktrees and CI). */
export function binaryPaths(env: NodeJS.ProcessEnv = process.env): Record<Binary, string> {
  const pins = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8')) as Pins;
  const cache = env.MAILKIND_CACHE || join(homedir(), '.cache', 'mailkind');
  const k8s = join(cache, `kubernetes-${pins.kubernetes.version}`, 'bin');
  return {
    'kube-apiserver': join(k8s, 'kube-apiserver'),
    'kube-controller-manager': join(k8s, 'kube-controller-manager'),
    'kube-scheduler': join(k8s, 'kube-scheduler'),
    kubectl: join(k8s, 'kubectl'),
    etcd: join(cache, `etcd-${pins.etcd.version}`, 'bin', 'etcd'),
    kwok: join(cache, `kwok-${pins.kwok.version}`, 'bin', 'kwok'),
  };
}

/** For skipWithout(): undefined when every program is built, else what is missing and the fix. */
export function controlPlaneMissing(what = 'test/cluster (real control plane tier)'): Miss | undefined {
  const missing = Object.entries(binaryPaths()).filter(([, p]) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return { what, reason: `${missing.map(([n]) => n).join(', ')} not built (looked in ${binaryPaths().etcd.replace(/\/etcd-.*$/, '')})`, fix: PROVISION };
}

/** A pod crash the simulated kubelet plays: pods of `app` (app.kubernetes.io/name) in `namespace`. */
export interface CrashRule {
  namespace: string;
  app: string;
}

export interface ControlPlaneOptions {
  /** hostPath PersistentVolumes of class `standard` to pre-create (no provisioner runs) */
  volumes?: number;
  /** pods that never become Ready: kwok keeps their container in CrashLoopBackOff */
  crash?: CrashRule[];
}

export interface ControlPlane {
  /** temp dir with certificates, kubeconfig, data and one log file per process */
  dir: string;
  kubeconfig: string;
  context: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** the kubectl built with the control plane (same version as the server) */
  kubectl: string;
  /** runs that kubectl against this control plane */
  run(args: readonly string[], opts?: ExecaOptions): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** the last lines of one process's log (for assertion messages) */
  log(name: Binary, lines?: number): string;
  /** how long each start-up phase took, ms */
  timings: Record<string, number>;
  /** stops every process it started and removes the temp dir; safe to call twice */
  stop(): Promise<void>;
}

interface Running {
  name: Binary;
  child: ChildProcess;
  exited: Promise<void>;
}

// Every process group any control plane in this process started: killed on exit whatever happens.
const allGroups = new Set<number>();
let hooksInstalled = false;
function killGroupsSync(signal: NodeJS.Signals): void {
  for (const pgid of allGroups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      allGroups.delete(pgid);
    }
  }
}
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => killGroupsSync('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killGroupsSync('SIGKILL');
      // then die of the signal as we would have without this handler
      process.kill(process.pid, sig);
    });
  }
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await execa('openssl', args, { cwd: dir, stdin: 'ignore' });
}

/** CA, API server serving cert, admin client cert (system:masters), service-account key pair. */
async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=mailkind-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (name: string, subj: string, ext: string[]) =>
    openssl(dir, ['req', '-x509', ...ec, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subj, ...ext.flatMap((e) => ['-addext', e])]);
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth', 'basicConstraints=critical,CA:FALSE']),
    leaf('admin', '/O=system:masters/CN=mailkind-test-admin', ['extendedKeyUsage=clientAuth', 'basicConstraints=critical,CA:FALSE']),
    openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key']).then(() => openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'])),
  ]);
}

function kubeconfigYaml(dir: string, server: string, context: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: ${context}
    cluster: { server: "${server}", certificate-authority: "${join(dir, 'ca.crt')}" }
users:
  - name: ${context}-admin
    user: { client-certificate: "${join(dir, 'admin.crt')}", client-key: "${join(dir, 'admin.key')}" }
contexts:
  - name: ${context}
    context: { cluster: ${context}, user: ${context}-admin }
current-context: ${context}
`;
}

/**
 * The simulated kubelet's behaviour, as kwok Stage objects (kwok v0.8.0 refuses to start without
 * any; the schema is kwok's pkg/apis/v1alpha1/stage_types.go). A node becomes Ready at once; a pod
 * becomes Running and Ready at once, except pods a CrashRule names, whose container is shown
 * crash-looping with a Warning BackOff event; a pod being deleted is removed (what the kubelet
 * does after its containers stop).
 */
export function kwokStages(crash: readonly CrashRule[] = []): string {
  const pending = `
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: [Pending]`;
  const crashNamespaces = [...new Set(crash.map((c) => c.namespace))];
  const podReady = (name: string, extra: string) => `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: { name: ${name} }
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:${pending}${extra}
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      startTime: {{ $now | Quote }}
      conditions:
      {{ range list "Initialized" "PodReadyToStartContainers" "ContainersReady" "Ready" }}
      - { type: {{ . }}, status: "True", lastTransitionTime: {{ $now | Quote }} }
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: { running: { startedAt: {{ $now | Quote }} } }
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state: { terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } }
      {{ end }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
`;
  const stages = [
    `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: { name: node-ready }
spec:
  resourceRef: { apiGroup: v1, kind: Node }
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      conditions:
      {{ range NodeConditions }}
      - { type: {{ .type | Quote }}, status: {{ .status | Quote }}, reason: {{ .reason | Quote }}, message: {{ .message | Quote }}, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }} }
      {{ end }}
      addresses:
      - { type: InternalIP, address: {{ NodeIP | Quote }} }
      - { type: Hostname, address: {{ NodeName | Quote }} }
      daemonEndpoints: { kubeletEndpoint: { Port: {{ NodePort }} } }
      allocatable: {{ YAML .status.allocatable 1 }}
      capacity: {{ YAML .status.capacity 1 }}
      nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: {{ printf "kwok-%s" Version | Quote }}, containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}, kernelVersion: "", osImage: "", machineID: "", systemUUID: "", bootID: "", kubeProxyVersion: "" }
`,
    podReady(
      'pod-ready',
      crashNamespaces.length
        ? `
    - key: '.metadata.namespace'
      operator: NotIn
      values: [${crashNamespaces.map((n) => JSON.stringify(n)).join(', ')}]`
        : '',
    ),
    ...crashNamespaces.flatMap((ns, i) => {
      const apps = crash.filter((c) => c.namespace === ns).map((c) => JSON.stringify(c.app));
      const inNs = `
    - key: '.metadata.namespace'
      operator: In
      values: [${JSON.stringify(ns)}]`;
      return [
        podReady(`pod-ready-crash-ns-${i}`, `${inNs}
    - key: '.metadata.labels["app.kubernetes.io/name"]'
      operator: NotIn
      values: [${apps.join(', ')}]`),
        `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: { name: pod-crash-loop-${i} }
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:${pending}${inNs}
    - key: '.metadata.labels["app.kubernetes.io/name"]'
      operator: In
      values: [${apps.join(', ')}]
  next:
    event: { type: Warning, reason: BackOff, message: "Back-off restarting failed container" }
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      startTime: {{ $now | Quote }}
      conditions:
      - { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
      - { type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }} }
      - { type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }} }
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: false
        restartCount: 5
        state: { waiting: { reason: CrashLoopBackOff, message: "back-off 2m40s restarting failed container={{ .name }}" } }
        lastState: { terminated: { exitCode: 1, reason: Error, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} } }
      {{ end }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
`,
      ];
    }),
    `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: { name: pod-delete }
spec:
  resourceRef: { apiGroup: v1, kind: Pod }
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
`,
  ];
  return stages.join('---\n');
}

/** The simulated node, the default StorageClass and `volumes` hostPath PVs that bind any claim. */
export function clusterObjects(node: string, volumes: number): string {
  const docs = [
    `apiVersion: v1
kind: Node
metadata:
  name: ${node}
  annotations: { kwok.x-k8s.io/node: fake }
  labels: { kubernetes.io/hostname: ${node}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok }
status:
  allocatable: { cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 500Gi }
  capacity: { cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 500Gi }
`,
    // what kind's default class is called; no provisioner runs, the PVs below are bound instead
    `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
`,
  ];
  for (let i = 0; i < volumes; i++) {
    docs.push(`apiVersion: v1
kind: PersistentVolume
metadata: { name: pv-${String(i).padStart(3, '0')} }
spec:
  storageClassName: standard
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: { path: /tmp/mailkind-kwok-pv-${i} }
`);
  }
  return docs.join('---\n');
}

function getHttps(url: string, dir: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request(
      url,
      { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, 'admin.crt')), key: readFileSync(join(dir, 'admin.key')), timeout: 2_000 },
      (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, why: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`control plane: ${what} not within ${timeoutMs / 1000}s${why() ? `\n${why()}` : ''}`);
    await sleep(100);
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = binaryPaths();
  const missing = controlPlaneMissing();
  if (missing) throw new Error(`${missing.reason}; fix: ${missing.fix}`);
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), 'mailkind-cp-'));
  const context = 'mailkind-test-cp';
  const node = 'kwok-node-0';
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const mark = (phase: string) => (timings[phase] = Math.round(performance.now() - t0));
  const running: Running[] = [];
  let stopped = false;

  // a watchdog outside this process: if it dies without stopping us (SIGKILL, a crashed worker),
  // the watchdog kills every process group listed in pgids
  writeFileSync(join(dir, 'pgids'), '');
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null && [ -e "$1/pgids" ]; do sleep 1; done; for g in $(cat "$1/pgids" 2>/dev/null); do kill -KILL -- "-$g" 2>/dev/null; done; rm -rf "$1"`, 'watchdog', dir],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();

  const start = (name: Binary, args: string[]): Running => {
    const out = openSync(join(dir, `${name}.log`), 'a');
    // detached: its own process group, so stop() takes any children with it
    const child = spawn(bins[name], args, { cwd: dir, detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.unref();
    if (child.pid === undefined) throw new Error(`control plane: could not start ${name}`);
    allGroups.add(child.pid);
    writeFileSync(join(dir, 'pgids'), [...allGroups].join('\n') + '\n');
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    const r = { name, child, exited };
    running.push(r);
    return r;
  };
  const log = (name: Binary, lines = 20): string => {
    try {
      return readFileSync(join(dir, `${name}.log`), 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  };
  const alive = (r: Running, what: string) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`control plane: ${r.name} exited (${r.child.exitCode ?? r.child.signalCode}) while waiting for ${what}:\n${log(r.name)}`);
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const r of [...running].reverse()) {
      const pgid = r.child.pid!;
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const gone = await Promise.race([r.exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!gone) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
        await r.exited;
      }
      allGroups.delete(pgid);
    }
    // the watchdog sees pgids gone and exits
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kubeletPort] = await freePorts(6);
    await makeCertificates(dir);
    mark('certificates');

    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = start('etcd', [
      '--name=cp',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=cp=http://127.0.0.1:${etcdPeer}`,
      // a throwaway store: durability buys nothing here and fsync costs seconds on a busy disk
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);

    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(dir, server, context));
    await until('etcd healthy', 30_000, async () => {
      alive(etcd, 'etcd');
      const r = await fetch(`${etcdUrl}/health`);
      return r.ok ? true : undefined;
    });
    mark('etcd');

    const api = start('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      // a loopback advertise address is otherwise logged as invalid for the `kubernetes` Endpoints
      '--endpoint-reconciler-type=none',
      '--profiling=false',
    ]);
    await until(
      'kube-apiserver /readyz',
      60_000,
      async () => {
        alive(api, 'kube-apiserver');
        return (await getHttps(`${server}/readyz`, dir)).status === 200 ? true : undefined;
      },
      () => log('kube-apiserver'),
    );
    mark('apiserver');

    const kcm = start('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${join(dir, 'sa.key')}`,
      `--root-ca-file=${join(dir, 'ca.crt')}`,
      '--use-service-account-credentials',
      '--profiling=false',
    ]);
    const sched = start('kube-scheduler', [`--kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, '--leader-elect=false', '--profiling=false']);
    writeFileSync(join(dir, 'stages.yaml'), kwokStages(options.crash));
    const kwok = start('kwok', [
      `--kubeconfig=${kubeconfig}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--config=${join(dir, 'stages.yaml')}`,
      // the node's address and kubelet port: loopback, a port nothing listens on, so the API
      // server's calls to "the kubelet" (kubectl logs) fail at once instead of leaving the machine
      '--node-ip=127.0.0.1',
      `--node-port=${kubeletPort}`,
      // kwok renews the node's Lease: the node lifecycle controller sees a live kubelet
      '--node-lease-duration-seconds=40',
    ]);

    const run: ControlPlane['run'] = async (args, opts = {}) => {
      const r = await execa(bins.kubectl, ['--kubeconfig', kubeconfig, ...args], { reject: false, ...opts } as ExecaOptions);
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    };
    const volumes = options.volumes ?? 24;
    const applied = await run(['apply', '--filename', '-'], { input: clusterObjects(node, volumes) });
    if (applied.exitCode !== 0) throw new Error(`control plane: creating the node and volumes failed: ${applied.stderr}`);
    mark('objects');

    const everyone = () => [kcm, sched, kwok].forEach((r) => alive(r, 'readiness'));
    await until(
      `node ${node} Ready`,
      60_000,
      async () => {
        everyone();
        const r = await run(['get', 'node', node, '--output', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return r.stdout === 'True' ? true : undefined;
      },
      () => log('kwok'),
    );
    mark('node');
    // the PV controller starts a few seconds after the controller-manager; a claim made before
    // its first pass waits for a 15 s resync, so wait for it to have marked every volume
    await until(
      `${volumes} PersistentVolumes Available`,
      60_000,
      async () => {
        everyone();
        const r = await run(['get', 'pv', '--output', 'jsonpath={range .items[*]}{.status.phase}{"\\n"}{end}']);
        const phases = r.stdout.split('\n').filter(Boolean);
        return phases.length === volumes && phases.every((p) => p === 'Available') ? true : undefined;
      },
      () => log('kube-controller-manager'),
    );
    mark('volumes');
    // the service account controller (pods in a new namespace need its `default` account)
    await until('ServiceAccount default/default', 30_000, async () => ((await run(['get', 'serviceaccount', 'default', '--output', 'name'])).exitCode === 0 ? true : undefined));
    mark('ready');

    return { dir, kubeconfig, context, server, kubectl: bins.kubectl, run, log, timings, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
