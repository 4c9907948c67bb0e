// The pinned KumoMTA image judges the project's policy (`npm run validate`, the `validate` step of
// `npm run up`, the Tiltfile's kumomta-policy resource): what to run is a pure plan built from the
// manifests; running it is one `docker run` per check (scripts/lib/tools/docker.ts).
//
// Facts from KumoCorp/kumomta at the pinned tag:
//  - `kumod --validate` runs pre_init, init and validate_config, then exits; listeners, spool and
//    logs are skipped in that mode (crates/kumod/src/main.rs perform_init, mod_kumo.rs, spool.rs,
//    logging/files.rs), but configure_redis_throttles still PINGs Redis
//    (crates/kumo-server-common/src/lib.rs): init.lua skips it when _VALIDATING_CONFIG is set, so
//    validation needs neither Dragonfly nor a network (--network none).
//  - Options are converted before the validate-mode checks, so a value kumod would refuse at start
//    is refused here with the same text ("invalid type: map, expected a sequence", ...).
//  - The shaping helper's validate_config handler loads the shaping files with skip_remote
//    (assets/policy-extras/shaping.lua); `validate-shaping FILE...` checks them on their own
//    (crates/validate-shaping/src/main.rs).
//  - tsa-daemon has no validation mode (crates/tsa-daemon/src/main.rs: --policy and logging flags
//    only): tsa_init.lua is checked by the lua harness alone (test/component/kumomta).
//  - As root, kumod insists on --user (main.rs drop_privs); the pod runs it as a non-root uid
//    without --user, and so does this check (the uid comes from the kumomta StatefulSet).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { UserError } from '../cli/errors.js';
import type { Docker } from '../tools/docker.js';

/** Where the pod mounts the policy ConfigMap, and so where the container sees the files. */
export const POLICY_MOUNT = '/opt/kumomta/etc/policy';
/** Any fixed UUID: kumod then neither writes nor derives a node id (crates/kumo-server-common/src/nodeid.rs). */
export const VALIDATE_NODE_ID = '00000000-0000-4000-8000-000000000001';
/** What a secretKeyRef becomes: the policy checks only that the value is set and well-formed. */
export const PLACEHOLDER_SECRET = 'validate-placeholder';

export interface ValidateCheck {
  name: 'kumod --validate' | 'validate-shaping';
  /** the docker CLI arguments after `docker` */
  args: string[];
}

export interface ValidatePlan {
  image: string;
  checks: ValidateCheck[];
  /** what the image cannot check, said once */
  notes: string[];
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath?: string }; secretKeyRef?: { name?: string; key?: string } };
}
interface KumodPod {
  uid?: number;
  gid?: number;
  env: EnvVar[];
}

/** The kumod container's env and uid, read from manifests/base/components/kumomta.yaml. */
export function kumodPod(componentYaml: string): KumodPod {
  for (const doc of parseAllDocuments(componentYaml)) {
    const o = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string };
      spec?: { template?: { spec?: { securityContext?: { runAsUser?: number; runAsGroup?: number }; containers?: { name: string; env?: EnvVar[] }[] } } };
    } | null;
    if (o?.kind !== 'StatefulSet' || o.metadata?.name !== 'kumomta') continue;
    const ps = o.spec?.template?.spec;
    const kumod = ps?.containers?.find((c) => c.name === 'kumod');
    if (!kumod) break;
    return { uid: ps?.securityContext?.runAsUser, gid: ps?.securityContext?.runAsGroup, env: kumod.env ?? [] };
  }
  throw new Error('manifests/base/components/kumomta.yaml: no StatefulSet kumomta with a kumod container');
}

/** The env the pod gets, as literal values: downward API fields and Secrets filled in. */
export function podEnv(vars: readonly EnvVar[], namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of vars) {
    if (v.value !== undefined) env[v.name] = v.value.replaceAll('$(POD_NAMESPACE)', namespace);
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[v.name] = namespace;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = 'kumomta-0';
    else if (v.valueFrom?.secretKeyRef) env[v.name] = PLACEHOLDER_SECRET;
  }
  // a fixed node id instead of KUMO_NODE_ID_PATH (which points at the pod's spool volume)
  delete env.KUMO_NODE_ID_PATH;
  env.KUMO_NODE_ID = VALIDATE_NODE_ID;
  return env;
}

export function kumomtaImage(pulled: readonly string[]): string {
  const image = pulled.find((r) => r.startsWith('ghcr.io/kumocorp/kumomta:') || r.startsWith('ghcr.io/kumocorp/kumomta@'));
  if (!image) throw new Error('manifests/base/kustomization.yaml pins no ghcr.io/kumocorp/kumomta image');
  return image;
}

/** The docker runs that check the policy directory `policyDir` with the pinned image. */
export function validatePlan(opts: { root: string; policyDir: string; image: string; namespace: string }): ValidatePlan {
  const pod = kumodPod(readFileSync(join(opts.root, 'manifests/base/components/kumomta.yaml'), 'utf8'));
  const env = podEnv(pod.env, opts.namespace);
  const base = ['run', '--rm', '--network', 'none', '--volume', `${opts.policyDir}:${POLICY_MOUNT}:ro`];
  const user = pod.uid === undefined ? [] : ['--user', `${pod.uid}:${pod.gid ?? pod.uid}`];
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return {
    image: opts.image,
    checks: [
      {
        name: 'kumod --validate',
        args: [...base, ...user, ...envArgs, '--entrypoint', '/opt/kumomta/sbin/kumod', opts.image, '--policy', `${POLICY_MOUNT}/init.lua`, '--validate'],
      },
      {
        name: 'validate-shaping',
        args: [...base, ...user, '--entrypoint', '/opt/kumomta/sbin/validate-shaping', opts.image, `${POLICY_MOUNT}/shaping.toml`],
      },
    ],
    notes: ['tsa_init.lua: tsa-daemon has no validation mode; the policy harness checks it (npm run test:component)'],
  };
}

export interface CheckOutcome {
  name: string;
  ok: boolean;
  exitCode: number;
  /** kumod's own words, stdout then stderr, unchanged */
  output: string;
}

/** Docker's manifest list for a ref: which platforms it has (`docker manifest inspect`). */
export function platformsOf(manifestJson: string): string[] {
  const doc = JSON.parse(manifestJson) as { manifests?: { platform?: { os?: string; architecture?: string; variant?: string } }[]; mediaType?: string };
  if (!doc.manifests) return [];
  return doc.manifests
    .map((m) => m.platform)
    .filter((p): p is { os: string; architecture: string } => Boolean(p?.os && p.architecture) && p!.os !== 'unknown')
    .map((p) => `${p.os}/${p.architecture}`);
}

export const REQUIRED_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

export function missingPlatforms(platforms: readonly string[]): string[] {
  return REQUIRED_PLATFORMS.filter((p) => !platforms.includes(p));
}

/** `docker image inspect` Config.User -> what the container starts as. */
export function describeUser(configUser: string, idOutput?: string): string {
  const user = configUser.trim();
  if (user === '' || user === '0' || user === 'root' || user.startsWith('0:')) return 'root (uid 0; no USER in the image)';
  const uid = idOutput?.trim();
  return /^\d+(:\d+)?$/.test(user) ? `uid ${user}` : `user ${user}${uid ? ` (uid ${uid})` : ''}`;
}

/** The side effects: run each check of the plan through docker, kumod's text unchanged. */
export async function runValidation(docker: Pick<Docker, 'runOnce'>, plan: ValidatePlan): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of plan.checks) {
    const r = await docker.runOnce(check.args);
    if (r.notFound) throw dockerMissing('docker: not found on PATH');
    const output = [r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean).join('\n');
    outcomes.push({ name: check.name, ok: r.exitCode === 0 && !r.timedOut, exitCode: r.exitCode, output: r.timedOut ? `${output}\n(timed out)`.trim() : output });
  }
  return outcomes;
}

export const SKIP_HINT = 'npm run up -- --skip-validate, or MAILKIND_SKIP_VALIDATE=1';

export function dockerMissing(cause: string): UserError {
  return new UserError(
    `the KumoMTA policy cannot be validated: Docker is not available (${cause})`,
    `start Docker (npm run doctor says what is missing) and run again; to go on without the check: ${SKIP_HINT}`,
  );
}

/** The error of a failed validation: kumod's own text as the details, indented. */
export function validationFailed(outcomes: readonly CheckOutcome[]): UserError | undefined {
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length === 0) return undefined;
  return new UserError(
    `the pinned KumoMTA image refuses the policy: ${failed.map((o) => `${o.name} exited ${o.exitCode}`).join(', ')}`,
    'fix manifests/base/policy/kumomta/ as the lines below say (they are kumod\'s own), then run `npm run validate`',
    1,
    failed.flatMap((o) => [`${o.name}:`, ...o.output.split('\n').map((l) => `  ${l}`)]),
  );
}

/** MAILKIND_SKIP_VALIDATE=1 or the flag: skip, with the reason to print. */
export function skipValidation(flag: boolean | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (flag) return '--skip-validate';
  if (env.MAILKIND_SKIP_VALIDATE === '1' || env.MAILKIND_SKIP_VALIDATE === 'true') return 'MAILKIND_SKIP_VALIDATE=1';
  return undefined;
}

export interface ImageReport {
  ref: string;
  platforms: string[];
  missing: string[];
  /** why the registry could not be asked */
  error?: string;
  /** workload images: what the container starts as */
  user?: string;
  /** the kumomta image: the uid of its `kumod` user (not pinned upstream) */
  kumodUid?: string;
}

/**
 * Every pinned image: the registry lists linux/amd64 and linux/arm64 (no pull). Workload images
 * are then pulled for this machine's platform to read the user they start as.
 */
export async function checkImages(
  docker: Pick<Docker, 'manifestInspect' | 'pull' | 'imageUser' | 'runOnce'>,
  opts: { pinned: readonly string[]; workloads: readonly string[]; platform: string },
): Promise<ImageReport[]> {
  const reports: ImageReport[] = [];
  for (const ref of opts.pinned) {
    const r = await docker.manifestInspect(ref);
    if (r.notFound) throw dockerMissing('docker: not found on PATH');
    if (r.exitCode !== 0) {
      reports.push({ ref, platforms: [], missing: [...REQUIRED_PLATFORMS], error: (r.stderr.trim().split('\n').pop() ?? '').trim() || `exit ${r.exitCode}` });
      continue;
    }
    let platforms: string[];
    try {
      platforms = platformsOf(r.stdout);
    } catch {
      reports.push({ ref, platforms: [], missing: [...REQUIRED_PLATFORMS], error: 'docker manifest inspect printed no JSON' });
      continue;
    }
    const report: ImageReport = { ref, platforms, missing: missingPlatforms(platforms) };
    if (opts.workloads.includes(ref)) {
      await docker.pull(ref, opts.platform);
      const configUser = await docker.imageUser(ref);
      let id: string | undefined;
      if (configUser && !/^\d+(:\d+)?$/.test(configUser)) id = (await docker.runOnce(['run', '--rm', '--network', 'none', '--entrypoint', 'id', ref, '-u', configUser.split(':')[0] ?? configUser])).stdout;
      report.user = describeUser(configUser, id);
      if (ref.startsWith('ghcr.io/kumocorp/kumomta')) {
        const k = await docker.runOnce(['run', '--rm', '--network', 'none', '--entrypoint', 'id', ref, '-u', 'kumod']);
        report.kumodUid = k.exitCode === 0 ? k.stdout.trim() : `unknown (${k.stderr.trim() || `exit ${k.exitCode}`})`;
      }
    }
    reports.push(report);
  }
  return reports;
}

export function imageLines(reports: readonly ImageReport[]): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  for (const r of reports) {
    const platforms = r.error ? `cannot inspect: ${r.error}` : r.missing.length ? `MISSING ${r.missing.join(', ')} (has ${r.platforms.join(', ') || 'no platform list'})` : REQUIRED_PLATFORMS.join(' + ');
    lines.push(`${r.ref}: ${platforms}`);
    if (r.user) lines.push(`  runs as ${r.user}${r.kumodUid ? `; its kumod user is uid ${r.kumodUid}` : ''}`);
  }
  return { lines, ok: reports.every((r) => !r.error && r.missing.length === 0) };
}
