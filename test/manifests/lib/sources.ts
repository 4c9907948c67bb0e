// Parsers for the files the checks compare the rendered objects with: the kustomization (image
// pins, generators), the kind cluster config, manifests/README.md's contract tables and the
// KumoMTA policy files. Pure functions of file contents.
import { parse } from 'yaml';

// ---------------------------------------------------------------- kustomization.yaml

export interface ImagePin {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export interface Kustomization {
  images: ImagePin[];
  configMapGenerators: { name: string; files: string[]; hashSuffix: boolean }[];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

export function parseKustomization(text: string): Kustomization {
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  const globalHash = (doc.generatorOptions as { disableNameSuffixHash?: boolean } | undefined)?.disableNameSuffixHash !== true;
  return {
    images: list(doc.images).map((i) => {
      const r = (i ?? {}) as Record<string, unknown>;
      const pin: ImagePin = { name: str(r.name) ?? '' };
      const newName = str(r.newName);
      const newTag = str(r.newTag);
      const digest = str(r.digest);
      if (newName !== undefined) pin.newName = newName;
      if (newTag !== undefined) pin.newTag = newTag;
      if (digest !== undefined) pin.digest = digest;
      return pin;
    }),
    configMapGenerators: list(doc.configMapGenerator).map((g) => {
      const r = (g ?? {}) as Record<string, unknown>;
      const options = r.options as { disableNameSuffixHash?: boolean } | undefined;
      return {
        name: str(r.name) ?? '',
        // `key=path` entries name the key explicitly
        files: list(r.files).map((f) => String(f)),
        hashSuffix: options?.disableNameSuffixHash === undefined ? globalHash : !options.disableNameSuffixHash,
      };
    }),
  };
}

/** image reference -> repository, tag, digest ("docker.io/x/y:1.2@sha256:..." forms). */
export function parseImageRef(image: string): { repository: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

// ---------------------------------------------------------------- kind cluster config

export interface PortMapping {
  containerPort: number;
  hostPort: number;
  listenAddress?: string;
  protocol?: string;
}

export interface KindConfig {
  name?: string;
  podSubnet?: string;
  serviceSubnet?: string;
  nodeImages: string[];
  portMappings: PortMapping[];
}

export function parseKindConfig(text: string): KindConfig {
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  const net = (doc.networking ?? {}) as Record<string, unknown>;
  const nodes = list(doc.nodes) as Record<string, unknown>[];
  const cfg: KindConfig = {
    nodeImages: nodes.map((n) => str(n.image) ?? ''),
    portMappings: nodes.flatMap((n) =>
      list(n.extraPortMappings).map((m) => {
        const r = (m ?? {}) as Record<string, unknown>;
        const pm: PortMapping = { containerPort: Number(r.containerPort), hostPort: Number(r.hostPort) };
        const listen = str(r.listenAddress);
        const protocol = str(r.protocol);
        if (listen !== undefined) pm.listenAddress = listen;
        if (protocol !== undefined) pm.protocol = protocol;
        return pm;
      }),
    ),
  };
  const name = str(doc.name);
  const pod = str(net.podSubnet);
  const svc = str(net.serviceSubnet);
  if (name !== undefined) cfg.name = name;
  if (pod !== undefined) cfg.podSubnet = pod;
  if (svc !== undefined) cfg.serviceSubnet = svc;
  return cfg;
}

// ---------------------------------------------------------------- manifests/README.md

export interface HostPortRow {
  hostPort: number;
  nodePort: number;
  service: string;
  servicePort: number;
}

export interface ServiceRow {
  workloadKinds: string[];
  workload: string;
  replicas?: number;
  pvc?: string;
  image?: string;
  services: { name: string; headless: boolean }[];
  ports: { port: number; name: string }[];
}

export interface SecretRow {
  name: string;
  keys: string[];
}

function cells(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

/** Backticked names at parenthesis depth 0, each with the parenthetical note right after it. */
function namesWithNotes(cell: string): { name: string; note: string }[] {
  const out: { name: string; note: string }[] = [];
  let depth = 0;
  for (let i = 0; i < cell.length; i++) {
    const c = cell[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === '`') {
      const end = cell.indexOf('`', i + 1);
      if (end < 0) break;
      if (depth === 0) {
        const after = cell.slice(end + 1);
        const note = /^\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)/.exec(after)?.[1] ?? '';
        out.push({ name: cell.slice(i + 1, end), note });
      }
      i = end;
    }
  }
  return out;
}

/** The "Workloads and Services" table. */
export function parseReadmeServices(readme: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const line of readme.split('\n')) {
    if (!line.startsWith('|')) continue;
    const [workloadCell, serviceCell, portCell] = cells(line);
    if (!workloadCell || !serviceCell || !portCell || !/\d+\s+`[a-z0-9-]+`/.test(portCell)) continue;
    const workload = namesWithNotes(workloadCell)[0];
    if (!workload) continue;
    const kinds = [...workloadCell.slice(0, workloadCell.indexOf('`')).matchAll(/\b(Deployment|StatefulSet|DaemonSet)\b/g)].map((m) => m[1] ?? '');
    const row: ServiceRow = {
      workloadKinds: kinds,
      workload: workload.name,
      services: namesWithNotes(serviceCell).map((s) => ({ name: s.name, headless: /headless/.test(s.note) })),
      ports: [...portCell.matchAll(/(\d+)\s+`([a-z0-9-]+)`/g)].map((m) => ({ port: Number(m[1]), name: m[2] ?? '' })),
    };
    const replicas = /(\d+)\s+replicas/.exec(workload.note)?.[1];
    const pvc = /PVC\s+`([a-z0-9-]+)`/.exec(workload.note)?.[1];
    const image = /image\s+`([^`]+)`/.exec(workload.note)?.[1];
    if (replicas !== undefined) row.replicas = Number(replicas);
    if (pvc !== undefined) row.pvc = pvc;
    if (image !== undefined) row.image = image;
    rows.push(row);
  }
  return rows;
}

/** The host port table: | 8000 | 30800 | `kumomta-nodeport` -> kumomta 8000 | */
export function parseReadmeHostPorts(readme: string): HostPortRow[] {
  const rows: HostPortRow[] = [];
  for (const line of readme.split('\n')) {
    const m = /^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*`([a-z0-9-]+)`\s*->\s*[a-z0-9-]+\s+(\d+)\s*\|/.exec(line);
    if (m) rows.push({ hostPort: Number(m[1]), nodePort: Number(m[2]), service: m[3] ?? '', servicePort: Number(m[4]) });
  }
  return rows;
}

/** The Secrets table: | `kumomta-http` | `username`, `password` | ... | */
export function parseReadmeSecrets(readme: string): SecretRow[] {
  const section = sectionOf(readme, /^## Secrets/m);
  const rows: SecretRow[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const [nameCell, keyCell] = cells(line);
    const name = /^`([a-z0-9-]+)`$/.exec(nameCell ?? '')?.[1];
    if (!name || !keyCell) continue;
    rows.push({ name, keys: [...keyCell.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1] ?? '') });
  }
  return rows;
}

/** The variables of "Environment the KumoMTA policy reads". */
export function parseReadmePolicyEnv(readme: string): string[] {
  const section = sectionOf(readme, /^## Environment the KumoMTA policy reads/m);
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue;
    const [first] = cells(line);
    for (const m of (first ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(m[1] ?? '');
  }
  return names;
}

function sectionOf(markdown: string, heading: RegExp): string {
  const m = heading.exec(markdown);
  if (!m) return '';
  const rest = markdown.slice(m.index + m[0].length);
  const next = /^## /m.exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

// ---------------------------------------------------------------- KumoMTA policy files

export interface PolicyFile {
  /** file name inside manifests/base/policy/kumomta/ */
  name: string;
  content: string;
}

/** Lua source without comments (`--[[ ]]`, `--[==[ ]==]`, `-- line`). */
export function stripLuaComments(source: string): string {
  return source.replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, '').replace(/--[^\n]*/g, '');
}

/**
 * Environment variables a Lua file reads: os.getenv 'X', os.getenv "X", os.getenv('X'),
 * os.getenv("X"), os.getenv [[X]]. `dynamic` counts calls with a computed name (not checkable).
 */
export function luaGetenv(source: string): { names: string[]; dynamic: number } {
  const code = stripLuaComments(source);
  const names = new Set<string>();
  let dynamic = 0;
  for (const m of code.matchAll(/os\.getenv\s*(\(\s*)?(?:'([^'\n]*)'|"([^"\n]*)"|\[(=*)\[([\s\S]*?)\]\4\])?/g)) {
    const name = m[2] ?? m[3] ?? m[5];
    if (name === undefined) dynamic++;
    else names.add(name);
  }
  return { names: [...names].sort(), dynamic };
}

/** Files a policy names under a directory, e.g. '/opt/kumomta/etc/policy/shaping.toml' -> shaping.toml. */
export function referencedPolicyFiles(source: string, dir: string): string[] {
  const escaped = dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const code = stripLuaComments(source);
  return [...new Set([...code.matchAll(new RegExp(`${escaped}/([A-Za-z0-9._-]+)`, 'g'))].map((m) => m[1] ?? ''))].sort();
}

