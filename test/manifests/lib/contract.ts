// Reads docs/contract.md, the project's contract, into rows the tests compare the code with.
// Strict on purpose: a missing file, section or table, or a row that does not parse, throws
// ContractError, so a broken contract fails the tests instead of letting them check less.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONTRACT_PATH = 'docs/contract.md';

export class ContractError extends Error {
  override name = 'ContractError';
}

export function readContract(root: string): string {
  const path = join(root, CONTRACT_PATH);
  if (!existsSync(path)) throw new ContractError(`${CONTRACT_PATH} not found at ${path}: the tests check the code against it`);
  return readFileSync(path, 'utf8');
}

/** The first table under `## <heading>` as rows keyed by the lower-cased header, cells without backticks. */
export function contractTable(markdown: string, heading: string): Record<string, string>[] {
  const start = markdown.split('\n').findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new ContractError(`${CONTRACT_PATH} has no "## ${heading}" section`);
  const lines = markdown.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => l.startsWith('## '));
  const section = end < 0 ? lines : lines.slice(0, end);
  const first = section.findIndex((l) => l.trim().startsWith('|'));
  if (first < 0) throw new ContractError(`${CONTRACT_PATH} "## ${heading}" has no table`);
  const table: string[] = [];
  for (const l of section.slice(first)) {
    if (!l.trim().startsWith('|')) break;
    table.push(l.trim());
  }
  const cells = (l: string) => l.replace(/^\||\|$/g, '').split('|').map((c) => c.trim().replaceAll('`', ''));
  const [head, rule, ...body] = table;
  if (!head || !rule || !/^\|[\s|:-]+\|$/.test(rule) || body.length === 0) throw new ContractError(`${CONTRACT_PATH} "## ${heading}": the table has no header, separator or rows`);
  const keys = cells(head).map((k) => k.toLowerCase());
  return body.map((l, i) => {
    const values = cells(l);
    if (values.length !== keys.length) throw new ContractError(`${CONTRACT_PATH} "## ${heading}" row ${i + 1} has ${values.length} cells, the header ${keys.length}`);
    return Object.fromEntries(keys.map((k, j) => [k, values[j] ?? '']));
  });
}

function column(row: Record<string, string>, key: string, heading: string): string {
  const v = row[key];
  if (v === undefined || v === '') throw new ContractError(`${CONTRACT_PATH} "## ${heading}": a row lacks "${key}"`);
  return v;
}

function port(text: string, heading: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new ContractError(`${CONTRACT_PATH} "## ${heading}": "${text}" is not a port`);
  return n;
}

export interface ContractHostPort {
  hostPort: number;
  nodePort: number;
  env: string;
  what: string;
}

export function contractHostPorts(markdown: string): ContractHostPort[] {
  const h = 'Host ports';
  return contractTable(markdown, h).map((r) => ({
    hostPort: port(column(r, 'host port', h), h),
    nodePort: port(column(r, 'nodeport', h), h),
    env: column(r, 'variable', h),
    what: column(r, 'goes to', h),
  }));
}

export interface ContractComponent {
  name: string;
  workload: string;
  image: string;
  replicas: number;
  ports: number[];
}

export function contractComponents(markdown: string): ContractComponent[] {
  const h = 'Components';
  return contractTable(markdown, h).map((r) => ({
    name: column(r, 'component', h),
    workload: column(r, 'workload', h),
    image: column(r, 'image', h),
    replicas: Number(column(r, 'replicas', h)),
    ports: column(r, 'ports', h)
      .split(',')
      .map((p) => port(p.trim(), h)),
  }));
}

export interface ContractName {
  name: string;
  /** the default as written, without any "(...)" explanation */
  default: string;
  env: string;
}

export function contractNames(markdown: string): ContractName[] {
  const h = 'Names';
  return contractTable(markdown, h).map((r) => ({ name: column(r, 'name', h), default: column(r, 'default', h).replace(/\s*\(.*\)$/, ''), env: column(r, 'environment', h) }));
}

export function contractSecrets(markdown: string): Map<string, string[]> {
  const h = 'Secrets';
  return new Map(contractTable(markdown, h).map((r) => [column(r, 'secret', h), column(r, 'keys', h).split(',').map((k) => k.trim())]));
}

export function contractRoutes(markdown: string): { method: string; path: string }[] {
  const h = "The sink's API";
  return contractTable(markdown, h).map((r) => {
    const method = column(r, 'method', h);
    const path = column(r, 'path', h);
    if (!/^(GET|PUT|POST|DELETE)$/.test(method) || !path.startsWith('/')) throw new ContractError(`${CONTRACT_PATH} "## ${h}": "${method} ${path}" is not a method and a path`);
    return { method, path };
  });
}

export function contractTiers(markdown: string): { tier: string; inNpmTest: boolean }[] {
  const h = 'Test tiers';
  return contractTable(markdown, h).map((r) => ({ tier: column(r, 'tier', h), inNpmTest: column(r, 'command', h) === 'npm test' }));
}
