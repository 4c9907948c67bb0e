// Waiting for the stack in dependency order, and saying why when a workload does not come up:
// the failing pod's reason, its events and its last log lines.
import { UserError } from '../cli/errors.js';
import { lastLine } from '../tools/runner.js';
import type { Kubectl } from '../tools/kubectl.js';
import { profileRunsMailman, type Profile } from '../config/settings.js';

/** Each workload after what it needs: kumod needs Dragonfly, TSA and the sink; mailman-web needs core. */
export function rolloutOrder(profile: Profile): string[] {
  const mail = ['deployment/dragonfly', 'statefulset/kumomta-tsa', 'deployment/smtp-sink'];
  const lists = ['statefulset/postgres', 'deployment/mailman-core'];
  return profileRunsMailman(profile) ? [...mail, ...lists, 'statefulset/kumomta', 'deployment/mailman-web'] : [...mail, 'statefulset/kumomta'];
}

export interface PodSummary {
  name: string;
  ready: boolean;
  phase: string;
  /** the most telling waiting/terminated reason (ImagePullBackOff, CrashLoopBackOff, ...) */
  reason?: string;
  message?: string;
  restarts: number;
}

interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      ready?: boolean;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; message?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number } };
    }[];
  };
}

export function summarizePod(p: PodJson): PodSummary {
  const statuses = p.status?.containerStatuses ?? [];
  const bad = statuses.find((s) => s.state?.waiting || s.state?.terminated);
  const unschedulable = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const notReady = statuses.find((s) => !s.ready);
  return {
    name: p.metadata.name,
    ready: statuses.length > 0 && statuses.every((s) => s.ready),
    phase: p.status?.phase ?? 'Unknown',
    reason: bad?.state?.waiting?.reason ?? bad?.state?.terminated?.reason ?? unschedulable?.reason ?? (notReady ? 'NotReady (readiness probe failing)' : undefined),
    message: bad?.state?.waiting?.message ?? bad?.state?.terminated?.message ?? unschedulable?.message,
    restarts: statuses.reduce((s, c) => s + (c.restartCount ?? 0), 0),
  };
}

/** A fix for the common reasons a pod does not become ready on kind. */
export function reasonFix(reason: string | undefined): string {
  switch (reason) {
    case 'ImagePullBackOff':
    case 'ErrImagePull':
    case 'ErrImageNeverPull':
      return 'the node could not get the image: run `npm run up` again (it loads the pinned images); on Apple Silicon check the image has an arm64 variant';
    case 'CrashLoopBackOff':
    case 'Error':
      return 'the container keeps exiting: read its log lines below; a policy or config edit is the usual cause';
    case 'Unschedulable':
      return 'the node has too little CPU or memory for the requests: give Docker more resources or use --profile minimal';
    case 'CreateContainerConfigError':
      return 'a Secret or ConfigMap it needs is missing: run `npm run up` again (it applies the Secrets first)';
    case 'OOMKilled':
      return 'the container ran out of memory: raise its limit in manifests/base/components or give Docker more memory';
    default:
      return 'read the events and log lines below; `npm run status` shows every component';
  }
}

/** The app.kubernetes.io/name of a workload ref like statefulset/kumomta. */
export function appName(ref: string): string {
  return ref.slice(ref.indexOf('/') + 1);
}

export async function diagnose(kubectl: Kubectl, ref: string): Promise<{ pod?: PodSummary; details: string[] }> {
  const details: string[] = [];
  let pods: PodJson[] = [];
  try {
    pods = (await kubectl.getJson<{ items: PodJson[] }>('pods', ['--selector', `app.kubernetes.io/name=${appName(ref)}`])).items;
  } catch (e) {
    details.push(`(could not list pods: ${e instanceof Error ? e.message : String(e)})`);
  }
  const summaries = pods.map(summarizePod);
  const pod = summaries.find((p) => !p.ready) ?? summaries[0];
  if (!pod) return { details: [...details, `no pods of ${ref} exist: \`kubectl describe ${ref}\``] };
  details.push(`pod ${pod.name}: ${pod.phase}${pod.reason ? `, ${pod.reason}` : ''}${pod.message ? `: ${pod.message}` : ''}${pod.restarts ? `, ${pod.restarts} restart(s)` : ''}`);
  try {
    const events = await kubectl.getJson<{ items: { type?: string; reason?: string; message?: string; lastTimestamp?: string; eventTime?: string }[] }>('events', [
      '--field-selector',
      `involvedObject.name=${pod.name}`,
    ]);
    const recent = events.items.slice(-8);
    if (recent.length) details.push('events:', ...recent.map((e) => `  ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`.trimEnd()));
  } catch {
    /* events are a nicety here */
  }
  const logs = (await kubectl.logs(pod.name, 15)).split('\n').filter(Boolean);
  if (logs.length) details.push('last log lines:', ...logs.map((l) => `  ${l}`));
  return { pod, details };
}

export async function waitForRollouts(kubectl: Kubectl, profile: Profile, timeoutSeconds: number, onReady: (ref: string) => void): Promise<string[]> {
  const done: string[] = [];
  for (const ref of rolloutOrder(profile)) {
    const r = await kubectl.rolloutStatus(ref, timeoutSeconds);
    if (r.exitCode !== 0) {
      const { pod, details } = await diagnose(kubectl, ref);
      throw new UserError(
        `${ref} not ready after ${timeoutSeconds}s${pod?.reason ? ` (${pod.reason})` : ''}: ${lastLine(r.stderr) || lastLine(r.stdout)}`,
        reasonFix(pod?.reason),
        1,
        details,
      );
    }
    done.push(ref);
    onReady(ref);
  }
  return done;
}
