// MAILKIND_PINS_OVERRIDE: one JSON file replaces image refs everywhere the npm path uses them
// (pull/load/bundle plans, the kind node image, the registry container, and the manifests through
// the generated overlay, rendered here by the real kubectl kustomize).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { imagesForProfile, PinsOverrideError, readImagePins, readPinsOverride, readToolPins, splitRef } from '../../../scripts/lib/config/pins.js';
import { readPins } from '../../../scripts/lib/cli/common.js';
import { desiredCluster } from '../../../scripts/lib/lifecycle/cluster.js';
import { overlayKustomization } from '../../../scripts/lib/lifecycle/overlay.js';
import { resolveSettings } from '../../../scripts/lib/config/settings.js';
import { ROOT, realKubectl } from '../../helpers/fake-tools.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const dir = mkdtempSync(join(tmpdir(), 'mailkind-pins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function overrideFile(content: unknown): string {
  const p = join(dir, `override-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

const OVERRIDE = {
  images: {
    'ghcr.io/kumocorp/kumomta': `127.0.0.1:5999/kumomta@${DIGEST}`,
    'maxking/mailman-core': '127.0.0.1:5999/mailman-core:standin',
    'mailkind/smtp-sink': '127.0.0.1:5999/smtp-sink:t1',
  },
  kindNodeImage: `127.0.0.1:5999/node:v1@${DIGEST}`,
  registryImage: '127.0.0.1:5999/registry:3-standin',
};

describe('MAILKIND_PINS_OVERRIDE', () => {
  it('changes nothing when unset', () => {
    const settings = resolveSettings({});
    expect(readPinsOverride({})).toBeUndefined();
    const pins = readPins(settings, {});
    expect(pins.images.rewrites).toEqual([]);
    expect(pins.images).toMatchObject(readImagePins(ROOT));
  });

  it('replaces the workload, sink, node and registry refs, and nothing else', () => {
    const pins = readPins(resolveSettings({}), { MAILKIND_PINS_OVERRIDE: overrideFile(OVERRIDE) });
    const plain = readImagePins(ROOT);
    expect(pins.images.node).toBe(OVERRIDE.kindNodeImage);
    expect(pins.tools.registry.image).toBe(OVERRIDE.registryImage);
    expect(pins.tools.kind).toEqual(readToolPins(ROOT).kind);
    expect(pins.images.sink).toBe('127.0.0.1:5999/smtp-sink:t1');
    expect(pins.images.pulled).toContain(`127.0.0.1:5999/kumomta@${DIGEST}`);
    expect(pins.images.pulled).toContain('127.0.0.1:5999/mailman-core:standin');
    // the others keep their pins, in the kustomization's order
    expect(pins.images.pulled.filter((r) => !r.startsWith('127.0.0.1'))).toEqual(plain.pulled.filter((r) => !/kumomta|mailman-core/.test(r)));
    expect(pins.images.pulled).toHaveLength(plain.pulled.length);
    // the minimal profile still drops Mailman although its ref no longer says "maxking/..."
    const minimal = imagesForProfile(pins.images.pulled, false, pins.images.names);
    expect(minimal).not.toContain('127.0.0.1:5999/mailman-core:standin');
    expect(minimal).toContain(`127.0.0.1:5999/kumomta@${DIGEST}`);
  });

  it('puts the node image into the kind config kind is given', () => {
    const pins = readPins(resolveSettings({}), { MAILKIND_PINS_OVERRIDE: overrideFile({ kindNodeImage: OVERRIDE.kindNodeImage }) });
    const settings = resolveSettings({});
    const text = readKindConfig();
    const d = desiredCluster('mailkind', text, settings.ports, pins.images.node);
    expect(d.nodeImage).toBe(OVERRIDE.kindNodeImage);
    const cfg = parse(d.config) as { nodes: { image: string }[] };
    expect(cfg.nodes.map((n) => n.image)).toEqual([OVERRIDE.kindNodeImage]);
    // without it the pinned image stays
    expect((parse(desiredCluster('mailkind', text, settings.ports).config) as { nodes: { image: string }[] }).nodes[0]!.image).toBe(readImagePins(ROOT).node);
  });

  it('refuses a bad file with the reason (a configuration error, exit 2)', () => {
    const read = (c: unknown) => () => readPins(resolveSettings({}), { MAILKIND_PINS_OVERRIDE: overrideFile(c) });
    expect(read('{nope')).toThrow(PinsOverrideError);
    expect(read({ images: { 'no/such-image': 'x/y:1' } })).toThrow(/no images: entry named no\/such-image .*names: .*postgres/);
    expect(read({ images: { postgres: 'postgres' } })).toThrow(/neither a tag nor a digest/);
    expect(read({ kindNodeImage: 'Kindest/Node:1' })).toThrow(/not an image reference/);
    expect(read({ registry: 'x:1' })).toThrow(/unknown key\(s\) registry/);
    expect(() => readPins(resolveSettings({}), { MAILKIND_PINS_OVERRIDE: join(dir, 'missing.json') })).toThrow(/ENOENT/);
  });

  it('splits references as kustomize needs them', () => {
    expect(splitRef('127.0.0.1:5001/a/b:t@' + DIGEST)).toEqual({ name: '127.0.0.1:5001/a/b', tag: 't', digest: DIGEST });
    expect(splitRef('127.0.0.1:5001/a')).toEqual({ name: '127.0.0.1:5001/a', tag: undefined, digest: undefined });
    expect(splitRef('postgres:17')).toEqual({ name: 'postgres', tag: '17', digest: undefined });
  });
});

function readKindConfig(): string {
  return readFileSync(join(ROOT, 'manifests/kind/cluster.yaml'), 'utf8');
}

const kubectl = realKubectl();
describe.skipIf(!kubectl)('the overlay with overridden pins, rendered by the real kubectl kustomize', () => {
  it('rewrites every overridden image in the manifests (digest and tag forms) and keeps the rest', async () => {
    const pins = readPins(resolveSettings({}), { MAILKIND_PINS_OVERRIDE: overrideFile(OVERRIDE) });
    mkdirSync(join(ROOT, '.mailkind'), { recursive: true });
    const state = mkdtempSync(join(ROOT, '.mailkind', 'test-overlay-'));
    try {
      writeFileSync(join(state, 'kustomization.yaml'), overlayKustomization({ overlayDir: state, manifestsDir: join(ROOT, 'manifests'), images: pins.images.rewrites }));
      const { stdout } = await execa(kubectl!, ['kustomize', state]);
      const images = new Set<string>();
      for (const d of parseAllDocuments(stdout)) {
        const o = d.toJS() as { spec?: { template?: { spec?: { containers?: { image: string }[]; initContainers?: { image: string }[] } } } };
        const spec = o.spec?.template?.spec;
        for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) images.add(c.image);
      }
      expect(images).toContain(`127.0.0.1:5999/kumomta@${DIGEST}`);
      expect(images).toContain('127.0.0.1:5999/mailman-core:standin');
      expect(images).toContain('127.0.0.1:5999/smtp-sink:t1');
      expect([...images].filter((i) => /kumocorp|maxking\/mailman-core|mailkind\/smtp-sink/.test(i))).toEqual([]);
      // every image the manifests run is a pinned (or overridden) ref: nothing else slipped in
      const allowed = new Set([...pins.images.pulled, pins.images.sink]);
      expect([...images].filter((i) => !allowed.has(i))).toEqual([]);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 90_000);
});
