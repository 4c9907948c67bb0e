// Strict schema validation of rendered objects against the Kubernetes API schema.
//
// Source: the npm package kubernetes-models (maintained; 5.x is generated from the OpenAPI spec
// of Kubernetes v1.36.0, the minor of the pinned kindest/node v1.36.1). It ships two things per
// API type, both used here:
//   1. an ajv-compiled validator of the upstream schema (required fields, types, enums,
//      int32/int64 formats, patterns), and
//   2. a TypeScript declaration of the same type.
// The upstream schema allows unknown fields (the API server drops them silently, kubectl's
// client-side validation rejects them), so (1) alone misses `runAsUsr: 999`. To close that gap,
// (2) is turned into a JSON Schema with `additionalProperties: false` on every object that has no
// map-like index signature, and validated with ajv too. A field the schema does not know is
// an error, with the nearest known field name as the suggested fix.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ts from 'typescript';
import type { K8sObject } from './k8s.js';

/**
 * The Kubernetes version of the schemas. kubernetes-models moves to a new Kubernetes version in
 * minor releases (4.3.0 was v1.27.1, 4.5.0 v1.33.0), so package.json pins it exactly and a test
 * fails when the installed version differs from SCHEMA_PACKAGE_VERSION: update both together,
 * from its CHANGELOG (5.0.0: "Update to Kubernetes v1.36.0").
 */
export const SCHEMA_KUBERNETES_VERSION = '1.36.0';
export const SCHEMA_PACKAGE = 'kubernetes-models';
export const SCHEMA_PACKAGE_VERSION = '5.1.0';

export interface SchemaProblem {
  /** dotted path inside the object, e.g. spec.template.spec.containers[0].securityContext */
  path: string;
  problem: string;
  fix: string;
}

type JsonSchema = Record<string, unknown>;

interface Root {
  apiVersion: string;
  kind: string;
  /** the upstream compiled validator, via the model class */
  upstream: (data: unknown) => ErrorObject[];
  /** the strict validator built from the declaration */
  strict: ValidateFunction;
}

/** kubernetes-models' module for a type: core `v1` -> kubernetes-models/v1/Pod, `apps/v1` -> kubernetes-models/apps/v1/StatefulSet. */
export function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : [undefined, apiVersion];
  if (!/^[A-Za-z0-9.-]*$/.test(group ?? '') || !/^v[0-9a-z]+$/.test(version ?? '') || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    throw new Error(`not a Kubernetes apiVersion/kind: ${apiVersion} ${kind}`);
  }
  return group ? `${SCHEMA_PACKAGE}/${group}/${version}/${kind}` : `${SCHEMA_PACKAGE}/${version}/${kind}`;
}

const key = (apiVersion: string, kind: string): string => `${apiVersion}|${kind}`;

/**
 * JSON pointer -> dotted path: /spec/template/spec/containers/0 -> spec.template.spec.containers[0];
 * with the object at hand, list items that have a name are shown by it: containers[kumod].
 */
export function pointerToPath(pointer: string, root?: unknown): string {
  if (pointer === '') return '(object)';
  let node: unknown = root;
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) {
      const item: unknown = Array.isArray(node) ? node[Number(seg)] : undefined;
      const name = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
      path += typeof name === 'string' ? `[${name}]` : `[${seg}]`;
      node = item;
    } else {
      path += path ? `.${seg}` : seg;
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

export function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.c : undefined;
}

/** Turns TypeScript declarations into JSON Schemas, closing every object without an index signature. */
class DeclarationSchemas {
  readonly definitions: Record<string, JsonSchema> = {};
  private readonly names = new Map<ts.Type, string>();
  constructor(private readonly checker: ts.TypeChecker) {}

  schemaOf(t: ts.Type): JsonSchema {
    const F = ts.TypeFlags;
    if (t.isUnion()) {
      const members = t.types.filter((m) => !(m.flags & (F.Undefined | F.Void)));
      if (members.length > 0 && members.every((m) => m.isStringLiteral())) {
        return { type: 'string', enum: members.map((m) => m.value) };
      }
      const parts: JsonSchema[] = [];
      if (members.some((m) => m.flags & F.BooleanLiteral)) parts.push({ type: 'boolean' });
      for (const m of members) if (!(m.flags & F.BooleanLiteral)) parts.push(this.schemaOf(m));
      return parts.length === 1 ? (parts[0] ?? {}) : { anyOf: parts };
    }
    if (t.flags & (F.Any | F.Unknown)) return {};
    if (t.isStringLiteral()) return { const: t.value };
    if (t.isNumberLiteral()) return { const: t.value };
    if (t.flags & F.StringLike) return { type: 'string' };
    if (t.flags & F.NumberLike) return { type: 'number' };
    if (t.flags & F.BooleanLike) return { type: 'boolean' };
    if (t.flags & F.Null) return { type: 'null' };
    if (t.flags & F.NonPrimitive) return { type: 'object' };
    if (this.checker.isArrayType(t) || this.checker.isTupleType(t)) {
      const [item] = this.checker.getTypeArguments(t as ts.TypeReference);
      return { type: 'array', items: item ? this.schemaOf(item) : {} };
    }
    if (t.flags & (F.Object | F.Intersection)) return this.objectRef(t);
    throw new Error(`unsupported type in the schema declarations: ${this.checker.typeToString(t)}`);
  }

  private objectRef(t: ts.Type): JsonSchema {
    let name = this.names.get(t);
    if (!name) {
      name = `T${this.names.size}`;
      this.names.set(t, name); // before recursing: types can be recursive
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const p of this.checker.getPropertiesOfType(t)) {
        if (p.flags & ts.SymbolFlags.Method) continue;
        const pt = this.checker.getTypeOfSymbol(p);
        if (pt.getCallSignatures().length > 0) continue;
        properties[p.name] = this.schemaOf(pt);
        if (!(p.flags & ts.SymbolFlags.Optional)) required.push(p.name);
      }
      const index = this.checker.getIndexInfosOfType(t).find((i) => i.keyType.flags & ts.TypeFlags.String);
      this.definitions[name] = {
        type: 'object',
        properties,
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: index ? this.schemaOf(index.type) : false,
      };
    }
    return { $ref: `k8s#/definitions/${name}` };
  }
}

function describe(e: ErrorObject): { problem: string; fix: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const parentSchema: unknown = e.parentSchema;
      const parent: unknown = typeof parentSchema === 'object' && parentSchema !== null ? (parentSchema as JsonSchema).properties : undefined;
      const known = parent && typeof parent === 'object' ? Object.keys(parent) : [];
      const guess = nearest(field, known);
      return {
        problem: `unknown field "${field}" (not in the Kubernetes v${SCHEMA_KUBERNETES_VERSION} schema)`,
        fix: guess ? `rename it to "${guess}"` : `remove it (known fields here: ${known.join(', ') || 'none'})`,
      };
    }
    case 'required':
      return { problem: `missing required field "${String(p.missingProperty)}"`, fix: `add ${String(p.missingProperty)}` };
    case 'type': {
      const type = String(p.type);
      return {
        problem: `must be of type ${type}`,
        fix: type === 'string' ? 'quote the value (YAML reads 1, true, 0.5 as non-strings)' : `write a value of type ${type}`,
      };
    }
    case 'enum':
      return { problem: 'value is not allowed', fix: `use one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { problem: 'value is not allowed', fix: `use ${JSON.stringify(p.allowedValue)}` };
    case 'format':
      return { problem: `does not match format ${String(p.format)}`, fix: `write a valid ${String(p.format)}` };
    case 'pattern':
      return { problem: `does not match pattern ${String(p.pattern)}`, fix: 'fix the value' };
    default:
      return { problem: `${e.keyword} ${JSON.stringify(p)}`, fix: 'fix the value per the Kubernetes API reference' };
  }
}

function toProblems(errors: readonly ErrorObject[], root: unknown): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  // an anyOf/oneOf failure is explained by its branches' errors; the summary line only adds noise
  const specific = errors.filter(
    (e) => (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') || !errors.some((o) => o !== e && o.instancePath === e.instancePath),
  );
  for (const e of specific) {
    const { problem, fix } = describe(e);
    const path = pointerToPath(e.instancePath, root);
    const id = `${path}|${problem}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ path, problem, fix });
  }
  return out;
}

export class StrictValidator {
  private constructor(private readonly roots: Map<string, Root>) {}

  /** Builds validators for the given apiVersion/kind pairs; unknown pairs are reported by validate(). */
  static async create(repoRoot: string, types: Iterable<{ apiVersion: string; kind: string }>): Promise<StrictValidator> {
    const wanted = new Map<string, { apiVersion: string; kind: string; module: string }>();
    for (const { apiVersion, kind } of types) {
      try {
        wanted.set(key(apiVersion, kind), { apiVersion, kind, module: modelModule(apiVersion, kind) });
      } catch {
        // reported by validate()
      }
    }
    // the upstream validators, through the model classes (their constructor only copies fields)
    const classes = new Map<string, new (data: unknown) => { validate(): void }>();
    for (const [k, w] of wanted) {
      try {
        const mod = (await import(w.module)) as Record<string, unknown>;
        const cls = mod[w.kind];
        if (typeof cls === 'function') classes.set(k, cls as new (data: unknown) => { validate(): void });
      } catch {
        // no such type in this Kubernetes version: reported by validate()
      }
    }
    const known = [...wanted].filter(([k]) => classes.has(k));

    // the declarations, through the TypeScript checker
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: [],
    };
    const virtual = join(repoRoot, 'test', 'manifests', '__schema_roots__.ts');
    const source = [
      ...known.map(([, w], i) => `import type { I${w.kind} as T${i} } from '${w.module}';`),
      `export interface Roots {`,
      ...known.map((_, i) => `  r${i}: T${i};`),
      `}`,
    ].join('\n');
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    host.getSourceFile = (file, lang, ...rest) =>
      file === virtual ? ts.createSourceFile(file, source, lang) : getSourceFile(file, lang, ...rest);
    host.fileExists = (file) => file === virtual || fileExists(file);
    const program = ts.createProgram([virtual], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(virtual));
    if (diagnostics.length > 0) {
      const text = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
      throw new Error(`cannot load the ${SCHEMA_PACKAGE} declarations:\n${text}`);
    }
    const checker = program.getTypeChecker();
    const file = program.getSourceFile(virtual);
    const decl = file?.statements.find(ts.isInterfaceDeclaration);
    if (!decl) throw new Error('internal: no Roots interface');
    const rootsType = checker.getTypeAtLocation(decl.name);
    const schemas = new DeclarationSchemas(checker);
    const rootRefs = known.map((_, i) => {
      const prop = checker.getPropertyOfType(rootsType, `r${i}`);
      if (!prop) throw new Error(`internal: no root r${i}`);
      return schemas.schemaOf(checker.getTypeOfSymbol(prop));
    });

    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    ajv.addSchema({ $id: 'k8s', definitions: schemas.definitions });
    const roots = new Map<string, Root>();
    known.forEach(([k, w], i) => {
      const Cls = classes.get(k);
      if (!Cls) return;
      roots.set(k, {
        apiVersion: w.apiVersion,
        kind: w.kind,
        strict: ajv.compile(rootRefs[i] ?? {}),
        upstream: (data) => {
          try {
            new Cls(data).validate();
            return [];
          } catch (e) {
            const errors = (e as { errors?: unknown }).errors;
            if (Array.isArray(errors)) return errors as ErrorObject[];
            throw e;
          }
        },
      });
    });
    return new StrictValidator(roots);
  }

  /** Every schema problem of one object (empty when valid). */
  validate(o: unknown): SchemaProblem[] {
    const obj = o as Partial<K8sObject> | null;
    if (typeof obj !== 'object' || obj === null || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      return [{ path: '(object)', problem: 'not a Kubernetes object (apiVersion and kind must be strings)', fix: 'add apiVersion and kind' }];
    }
    const root = this.roots.get(key(obj.apiVersion, obj.kind));
    if (!root) {
      return [
        {
          path: 'apiVersion',
          problem: `${obj.apiVersion} ${obj.kind} is not a type of Kubernetes v${SCHEMA_KUBERNETES_VERSION}`,
          fix: 'use a served apiVersion/kind (kubectl api-resources)',
        },
      ];
    }
    const upstream = toProblems(root.upstream(o), o);
    // the strict layer exists for unknown fields; types, required fields and enums are reported
    // (more precisely: integer vs number, formats) by the upstream validator
    const unknown = root.strict(o) ? [] : toProblems((root.strict.errors ?? []).filter((e) => e.keyword === 'additionalProperties'), o);
    return [...upstream, ...unknown];
  }
}

/** The installed kubernetes-models version (the schemas' Kubernetes version depends on it). */
export function installedSchemaPackageVersion(repoRoot: string): string {
  const require = createRequire(join(repoRoot, 'package.json'));
  return (require(`${SCHEMA_PACKAGE}/package.json`) as { version: string }).version;
}
