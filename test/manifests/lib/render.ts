// Renders a kustomization the way both deploy paths do (`kubectl kustomize`; Tilt's kustomize()
// uses the same), falling back to a standalone `kustomize` binary.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s.js';

export interface Renderer {
  /** what runs, for messages */
  label: string;
  file: string;
  args: (dir: string) => string[];
}

function onPath(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** kubectl (its built-in kustomize) first, then a kustomize binary on PATH or in .cache/bin. */
export function findRenderer(repoRoot: string): Renderer | { skip: string } {
  const kubectl = onPath('kubectl', ['/usr/bin', '/usr/local/bin']);
  if (kubectl) return { label: 'kubectl kustomize', file: kubectl, args: (dir) => ['kustomize', dir] };
  const kustomize = onPath('kustomize', [join(repoRoot, '.cache', 'bin')]);
  if (kustomize) return { label: 'kustomize build', file: kustomize, args: (dir) => ['build', dir] };
  return { skip: 'neither kubectl nor kustomize found (PATH, /usr/bin, .cache/bin): cannot render manifests/' };
}

export async function render(renderer: Renderer, dir: string): Promise<K8sObject[]> {
  const { stdout } = await execa(renderer.file, renderer.args(dir), { timeout: 60_000 });
  return parseObjects(stdout, `${renderer.label} ${dir}`);
}

export function parseObjects(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}
