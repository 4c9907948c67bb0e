// Before any scenario: the cluster answers, every component is Ready, the host ports answer and
// the credentials work. Otherwise one error, within the preflight deadline (10 s by default),
// naming each component that is not there and saying that `npm run up` creates the stack.
import { buildInjectRequest, INJECT_PATH } from '../../../scripts/lib/clients/kumo-inject.js';
import { ClientError, joinUrl, send } from '../../../scripts/lib/clients/http.js';
import { MailmanRest } from '../../../scripts/lib/clients/mailman-rest.js';
import { SinkClient } from '../../../scripts/lib/clients/sink-client.js';
import { connect } from 'node:net';
import { Cluster, KubectlError } from './cluster.js';
import type { Credentials, E2eConfig } from './config.js';

export interface Problem {
  component: string;
  message: string;
}

export class PreflightError extends Error {
  override name = 'PreflightError';
  constructor(
    readonly problems: readonly Problem[],
    readonly config: Pick<E2eConfig, 'context' | 'namespace'>,
  ) {
    super(
      [
        `mailkind e2e preflight failed (context ${config.context}, namespace ${config.namespace}):`,
        ...problems.map((p) => `  - ${p.component}: ${p.message}`),
        '`npm run up` creates the stack (kind cluster and every component); run `npm run e2e` again once it is up.',
        'To test another cluster set MAILKIND_CONTEXT / MAILKIND_NAMESPACE / MAILKIND_HOST (see docs/e2e.md).',
      ].join('\n'),
    );
  }
}

/** The workloads each profile runs (manifests/README.md "Workloads and Services"). */
export function expectedWorkloads(mailman: boolean): string[] {
  const core = ['dragonfly', 'kumomta', 'kumomta-tsa', 'smtp-sink'];
  return mailman ? [...core, 'mailman-core', 'mailman-web', 'postgres'] : core;
}

/** What the suite works with once the preflight passed (credentials resolved). */
export interface E2eRuntime extends E2eConfig {
  kumoAuth: Credentials;
  mailmanAuth: Credentials | null;
}

function clusterProblem(e: unknown, c: E2eConfig): Problem {
  if (!(e instanceof KubectlError)) return { component: 'cluster', message: (e as Error).message };
  if (e.reason === 'missing') return { component: 'kubectl', message: e.message };
  const gist = e.gist;
  if (/context .*(does not exist|not found)|context was not found/i.test(e.stderr)) {
    return { component: 'cluster', message: `kube context "${c.context}" does not exist: no cluster to test (${gist})` };
  }
  if (/namespaces? .*not found/i.test(e.stderr)) {
    return { component: 'cluster', message: `namespace "${c.namespace}" does not exist in context ${c.context}: the stack is not deployed` };
  }
  if (e.reason === 'timeout' || /refused|no such host|i\/o timeout|unreachable|Unable to connect/i.test(e.stderr)) {
    return { component: 'cluster', message: `the API server of context ${c.context} does not answer (${gist}); is the kind cluster running (docker ps)?` };
  }
  return { component: 'cluster', message: gist };
}

/**
 * Connects to an SMTP port and waits for the 220 greeting (then says QUIT). Resolves with null when
 * it came, else with why not. Only the greeting: whether the listener relays is for the scenarios.
 */
export function probeSmtp(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ host, port });
    const done = (problem: string | null): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (problem === null) socket.end('QUIT\r\n');
      else socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`no SMTP greeting from ${host}:${port} within ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      // a greeting may span several lines ("220-..." then "220 ...")
      const last = text.split('\r\n').filter(Boolean).pop() ?? '';
      if (!text.includes('\r\n')) return;
      if (/^220 /.test(last)) done(null);
      else if (!/^220-/.test(last)) done(`${host}:${port} greeted with "${last.slice(0, 120)}" instead of 220`);
    });
    socket.on('error', (e: Error & { code?: string }) => done(`cannot connect to ${host}:${port} (${e.code ?? e.message})`));
    socket.on('end', () => done(`${host}:${port} closed the connection before a greeting`));
  });
}

export interface PreflightDeps {
  cluster?: Cluster;
  /** for messages printed as the checks pass */
  log?: (line: string) => void;
}

/**
 * Runs every check within config.timeouts.preflight. Resolves with the runtime config, or rejects
 * with a PreflightError listing every problem found (not only the first).
 */
export async function preflight(config: E2eConfig, deps: PreflightDeps = {}): Promise<E2eRuntime> {
  const budget = config.timeouts.preflight;
  const deadline = Date.now() + budget;
  const left = (cap: number): number => Math.max(1_000, Math.min(cap, deadline - Date.now()));
  const cluster = deps.cluster ?? new Cluster({ kubectl: config.kubectl, context: config.context, namespace: config.namespace });
  const fail = (problems: Problem[]): never => {
    throw new PreflightError(problems, config);
  };

  // 1. the cluster and the namespace
  try {
    await cluster.run(['get', 'namespace', config.namespace, '-o', 'name'], { namespaced: false, timeoutMs: left(6_000) });
  } catch (e) {
    fail([clusterProblem(e, config)]);
  }

  // 2. every workload Ready
  const problems: Problem[] = [];
  try {
    const found = new Map((await cluster.workloads(left(5_000))).map((w) => [w.name, w]));
    for (const name of expectedWorkloads(config.mailman)) {
      const w = found.get(name);
      if (!w) {
        // the Mailman trio missing together is what `npm run up -- --profile minimal` deploys
        const minimalStack = config.mailman && !found.has('mailman-core') && !found.has('mailman-web') && found.has('kumomta');
        problems.push({
          component: name,
          message: minimalStack
            ? 'not deployed: the stack looks like --profile minimal; run the suite with MAILKIND_PROFILE=minimal (the Mailman scenario is then left out), or `npm run up` for the full profile'
            : 'not deployed (no Deployment or StatefulSet of that name)',
        });
      }
      else if (w.desired === 0) problems.push({ component: name, message: `${w.kind} is scaled to 0` });
      else if (w.ready < w.desired) problems.push({ component: name, message: `${w.ready}/${w.desired} pods Ready (kubectl -n ${config.namespace} describe pods -l app.kubernetes.io/name=${name})` });
    }
  } catch (e) {
    fail([clusterProblem(e, config)]);
  }
  if (problems.length) fail(problems);

  // 3. credentials: env or secrets file, else the cluster's own Secrets (a remote cluster)
  const fromCluster = async (secret: string): Promise<Credentials | null> => {
    // within what is left of the preflight's budget, not kubectl's 20 s default
    const within = left(3_000);
    const [username, password] = await Promise.all([cluster.secretValue(secret, 'username', within), cluster.secretValue(secret, 'password', within)]);
    return username && password ? { username, password, source: `Secret ${secret} in the cluster` } : null;
  };
  let kumoAuth = config.kumoAuth;
  let mailmanAuth = config.mailman ? config.mailmanAuth : null;
  try {
    kumoAuth ??= await fromCluster('kumomta-http');
    if (config.mailman) mailmanAuth ??= await fromCluster('mailman-rest');
  } catch (e) {
    problems.push({ component: 'credentials', message: `not in the environment or ${config.secretsFile}, and reading the Secrets failed: ${(e as Error).message}` });
  }
  if (!kumoAuth) problems.push({ component: 'credentials', message: `no kumomta-http credentials (MAILKIND_KUMO_HTTP_USER/_PASSWORD, ${config.secretsFile} or Secret kumomta-http)` });
  if (config.mailman && !mailmanAuth) problems.push({ component: 'credentials', message: `no mailman-rest credentials (MAILKIND_MAILMAN_REST_USER/_PASSWORD, ${config.secretsFile} or Secret mailman-rest)` });
  if (problems.length || !kumoAuth) return fail(problems);

  // 4. the host ports answer, and the credentials are the ones the stack uses
  const httpTimeout = left(4_000);
  const probe = buildInjectRequest(
    { baseUrl: config.urls.kumo, username: kumoAuth.username, password: kumoAuth.password },
    { from: 'preflight@mailkind.test', recipients: ['preflight@mailkind.test'], subject: 'preflight', text: '' },
  );
  const checks: Promise<Problem | null>[] = [
    new SinkClient(config.urls.sink, { timeoutMs: httpTimeout })
      .ready()
      .then((ok) => (ok ? null : { component: 'smtp-sink', message: `${config.urls.sink}/readyz says not ready` }))
      .catch((e: Error) => ({ component: 'smtp-sink', message: `${e.message} (host port ${config.ports.sinkHttp})` })),
    send('KumoMTA', joinUrl('KumoMTA', config.urls.kumo, '/api/check-liveness/v1'), {}, httpTimeout)
      .then((r) => (r.status === 200 ? null : { component: 'kumomta', message: `check-liveness answered ${r.status}: ${r.text.trim()}` }))
      .catch((e: Error) => ({ component: 'kumomta', message: `${e.message} (host port ${config.ports.kumoHttp})` })),
    // The credentials, without sending mail: kumod checks them before it reads the body, and a
    // body of {} lacks every required field, so 401 means wrong credentials and the 4xx for the
    // body means they were accepted (nothing is queued either way).
    send('KumoMTA', probe.url, { ...probe.init, body: '{}' }, httpTimeout)
      .then((r): Problem | null => {
        if (r.status === 401) return { component: 'credentials', message: `KumoMTA refused user "${kumoAuth.username}" (from ${kumoAuth.source}): the secrets do not match the cluster` };
        if (r.status >= 400 && r.status < 500) return null;
        return { component: 'kumomta', message: `POST ${INJECT_PATH} with an empty body answered ${r.status}: ${r.text.trim().slice(0, 200)}` };
      })
      .catch((e: Error) => ({ component: 'kumomta', message: e.message })),
  ];
  // the two SMTP listeners answer through their host ports (the scenarios speak SMTP to both)
  for (const [what, port] of [
    ['inbound', config.ports.kumoInbound],
    ['relay', config.ports.kumoRelay],
  ] as const) {
    checks.push(probeSmtp(config.smtpHost, port, httpTimeout).then((why) => (why === null ? null : { component: 'kumomta', message: `SMTP ${what} (host port ${port}): ${why}` })));
  }
  if (config.mailman && mailmanAuth) {
    const auth = mailmanAuth;
    checks.push(
      new MailmanRest({ baseUrl: config.urls.mailman, username: auth.username, password: auth.password }, { timeoutMs: httpTimeout })
        .versions()
        .then(() => null)
        .catch((e: unknown) =>
          e instanceof ClientError && e.kind === 'auth'
            ? { component: 'credentials', message: `Mailman REST refused user "${auth.username}" (from ${auth.source}): the secrets do not match the cluster` }
            : { component: 'mailman-core', message: `${(e as Error).message} (host port ${config.ports.mailmanRest})` },
        ),
    );
  }
  for (const p of await Promise.all(checks)) if (p) problems.push(p);
  if (problems.length) fail(problems);
  deps.log?.(`preflight passed in ${budget - (deadline - Date.now())} ms`);
  return { ...config, kumoAuth, mailmanAuth };
}
