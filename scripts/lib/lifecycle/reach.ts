// The last step of `up` on kind: the HTTP URLs it is about to print must answer from this
// machine. Ready pods are not proof of that: the host port reaches a pod through kind's port
// mapping and kube-proxy's NodePort rules, and after a node restart kube-proxy writes those rules
// again some seconds after the pods say they are ready (13–20 s on the real kind cluster, after a
// Docker engine restart; docs/testing-kind.md).
import { setTimeout as pause } from 'node:timers/promises';
import { send, type FetchLike } from '../clients/http.js';
import type { PortKey, Settings } from '../config/settings.js';
import { endpoints } from './summary.js';

export interface ReachCheck {
  key: PortKey;
  what: string;
  url: string;
}

/**
 * Where each HTTP host port is asked, on a path that needs no credentials and is cheap. The SMTP
 * ports go through the same NodePort Service and the same kube-proxy sync as KumoMTA's HTTP port.
 */
const HEALTH_PATH: Partial<Record<PortKey, string>> = {
  kumoHttp: '/api/check-liveness/v1',
  sinkHttp: '/healthz',
  // 401 without credentials is an answer: the request reached mailman-core
  mailmanRest: '/3.1/system/versions',
  mailmanWeb: '/postorius/lists/',
};

/** The summary's HTTP endpoints of the profile (summary.ts), each on its health path. */
export function reachChecks(settings: Pick<Settings, 'host' | 'ports' | 'profile'>): ReachCheck[] {
  return endpoints(settings)
    .filter((e) => HEALTH_PATH[e.key] !== undefined)
    .map((e) => ({ key: e.key, what: e.what, url: `http://${settings.host}:${settings.ports[e.key]}${HEALTH_PATH[e.key]}` }));
}

/** A status below 500 came from the workload; 5xx is a workload not ready yet (kumod's 503 while starting). */
export function answered(status: number): boolean {
  return status < 500;
}

export interface ReachOptions {
  timeoutSeconds: number;
  fetchImpl?: FetchLike;
  /** between attempts at one URL */
  intervalMs?: number;
  now?: () => number;
}

export interface ReachResult {
  /** per URL: how long until it answered */
  answered: { check: ReachCheck; ms: number }[];
  /** the URLs that never did, with the last thing each said */
  silent: { check: ReachCheck; last: string }[];
}

/** Asks every URL until it answers or the deadline passes; all URLs side by side. */
export async function waitForReach(checks: readonly ReachCheck[], opts: ReachOptions): Promise<ReachResult> {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const deadline = started + opts.timeoutSeconds * 1000;
  const result: ReachResult = { answered: [], silent: [] };
  await Promise.all(
    checks.map(async (check) => {
      for (;;) {
        let last: string;
        try {
          const r = await send(check.what, check.url, { method: 'GET' }, Math.round(Math.max(500, Math.min(3000, deadline - now()))), opts.fetchImpl);
          if (answered(r.status)) {
            result.answered.push({ check, ms: Math.round(now() - started) });
            return;
          }
          last = `HTTP ${r.status}`;
        } catch (e) {
          last = e instanceof Error ? e.message : String(e);
        }
        if (now() >= deadline) {
          result.silent.push({ check, last });
          return;
        }
        await pause(opts.intervalMs ?? 500);
      }
    }),
  );
  return result;
}
