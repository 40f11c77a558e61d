/**
 * Checks requests (and the fake's responses) against DigitalOcean's OpenAPI description, vendored in
 * test/fixtures/digitalocean/. Test-side only: ajv is a devDependency, so the fake server just takes callbacks.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type {
  FakeRequestValidator,
  FakeResponseValidator,
  FakeValidatedRequest,
} from '../../src/testing/fake-digitalocean.ts';

// ajv-formats is CommonJS with a default export; under NodeNext its callable sits on `.default`.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv };

type Schema = Record<string, unknown>;

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  security?: Array<Record<string, string[]>>;
}

interface Route {
  template: string;
  pattern: RegExp;
  names: string[];
  parameters: Parameter[];
  operations: Map<string, Operation>;
}

export const SPEC_PATH = new URL('../fixtures/digitalocean/reserved-ips.openapi.json', import.meta.url);

export interface OpenApiValidator {
  validateRequest: FakeRequestValidator;
  validateResponse: FakeResponseValidator;
}

/** How a provider's description is applied to the requests the fake receives. */
export interface OpenApiValidatorOptions {
  /** Prefix of every path on the wire that the description's `paths` omit (its `servers` URL path), e.g. `/v1`. */
  basePath?: string | undefined;
  /** Require a bearer Authorization header even where the description declares no security (Hetzner's). */
  requireBearer?: boolean | undefined;
  /**
   * Statuses the provider sends although the description does not list them (the providers' README says so, e.g.
   * Vultr's 429 and 5xx); their bodies are not checked. Any other undescribed status is a violation.
   */
  undescribedStatuses?: readonly number[] | undefined;
}

/** Builds request and response validators from the OpenAPI file. */
export function createOpenApiValidator(
  specPath: URL = SPEC_PATH,
  options: OpenApiValidatorOptions = {},
): OpenApiValidator {
  const spec = normalizeNullable(enforceDiscriminators(JSON.parse(readFileSync(specPath, 'utf8')))) as {
    paths: Record<string, Record<string, unknown>>;
    security?: Array<Record<string, string[]>>;
    components?: { securitySchemes?: Record<string, { type?: string; scheme?: string }> };
  };
  const basePath = options.basePath ?? '';
  const bearerSchemes = new Set(
    Object.entries(spec.components?.securitySchemes ?? { bearer_auth: { type: 'http', scheme: 'bearer' } })
      .filter(([, scheme]) => scheme.type === 'http' && scheme.scheme === 'bearer')
      .map(([name]) => name),
  );
  // `strict: false`: the description uses OpenAPI-only keywords (example, discriminator with anyOf) that are
  // annotations here. ajv implements OpenAPI's `nullable` itself.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const compiled = new WeakMap<Schema, ValidateFunction>();
  const check = (schema: Schema, value: unknown, where: string): string[] => {
    let validate = compiled.get(schema);
    if (validate === undefined) {
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${where}${e.instancePath} ${e.message ?? 'is invalid'}`);
  };

  const routes: Route[] = Object.entries(spec.paths).map(([template, item]) => {
    const names: string[] = [];
    const source = template
      .split('/')
      .map((segment) => {
        const param = /^\{(.+)\}$/.exec(segment);
        if (param === null) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        names.push(param[1]!);
        return '([^/]+)';
      })
      .join('/');
    const operations = new Map<string, Operation>();
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      if (item[method] !== undefined) operations.set(method.toUpperCase(), item[method] as Operation);
    }
    return {
      template,
      pattern: new RegExp(`^${source}$`),
      names,
      parameters: (item.parameters as Parameter[] | undefined) ?? [],
      operations,
    };
  });
  // Literal segments win over templates (`/actions/assign` is not `/actions/{action_id}`), as OpenAPI says.
  routes.sort((a, b) => a.names.length - b.names.length);

  const find = (request: FakeValidatedRequest): { route: Route; values: string[]; op: Operation } | string => {
    if (!request.pathname.startsWith(basePath)) return `${request.pathname} is outside ${basePath}`;
    const pathname = request.pathname.slice(basePath.length);
    for (const route of routes) {
      const m = route.pattern.exec(pathname);
      if (m === null) continue;
      const op = route.operations.get(request.method);
      if (op === undefined) return `${request.method} is not an operation of ${route.template}`;
      return { route, values: m.slice(1), op };
    }
    return `no path of the API description matches ${request.pathname}`;
  };

  const validateRequest: FakeRequestValidator = (request) => {
    const found = find(request);
    if (typeof found === 'string') return [found];
    const { route, values, op } = found;
    const problems: string[] = [];
    const parameters = [...route.parameters, ...(op.parameters ?? [])];

    route.names.forEach((name, i) => {
      const param = parameters.find((p) => p.in === 'path' && p.name === name);
      if (param === undefined) {
        problems.push(`path parameter ${name} is not described`);
        return;
      }
      const raw = decodeURIComponent(values[i]!);
      problems.push(...check(param.schema ?? {}, coerce(raw, param.schema), `path parameter ${name}`));
    });

    const queryParams = parameters.filter((p) => p.in === 'query');
    for (const key of new Set(request.query.keys())) {
      const param = queryParams.find((p) => p.name === key);
      if (param === undefined) problems.push(`query parameter ${key} is not described`);
      else problems.push(...check(param.schema ?? {}, coerce(request.query.get(key)!, param.schema), `query ${key}`));
    }
    for (const param of queryParams) {
      if (param.required === true && !request.query.has(param.name)) problems.push(`query ${param.name} is required`);
    }

    const security = op.security ?? spec.security ?? [];
    const needsBearer =
      options.requireBearer === true ||
      (security.length > 0 && security.every((s) => Object.keys(s).some((name) => bearerSchemes.has(name))));
    if (needsBearer && !/^Bearer [\x21-\x7e]+$/.test(request.headers.authorization ?? '')) {
      problems.push('a bearer Authorization header is required');
    }

    const hasBody = request.rawBody.length > 0;
    if (op.requestBody === undefined) {
      if (hasBody) problems.push('this operation takes no request body');
    } else if (!hasBody) {
      if (op.requestBody.required === true) problems.push('a request body is required');
    } else {
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const media = op.requestBody.content?.[contentType];
      if (media === undefined) problems.push(`content-type ${contentType || '(none)'} is not accepted`);
      else problems.push(...check(media.schema ?? {}, request.body, 'body'));
    }
    return problems;
  };

  const validateResponse: FakeResponseValidator = (request, status, body) => {
    const found = find(request);
    if (typeof found === 'string') return [];
    // 422 is not described (DigitalOcean sends it nonetheless, see docs/assigners.md) but has the documented error
    // body: check it as `default`.
    const responses = found.op.responses;
    const response = responses[String(status)] ?? responses[`${String(status)[0]}xx`] ?? responses.default;
    if (response === undefined) {
      return options.undescribedStatuses?.includes(status) ? [] : [`status ${status} is not described`];
    }
    const schema = response.content?.['application/json']?.schema;
    return schema === undefined ? [] : check(schema, body, `response ${status} body`);
  };

  return { validateRequest, validateResponse };
}

/**
 * The action bodies are `anyOf: [{type}, {type, droplet_id}]` with a discriminator on `type`. ajv ignores
 * discriminators on anyOf, and the first branch alone accepts `{type: 'assign'}` without (or with a malformed)
 * `droplet_id`. The file is dereferenced, so the mapping's targets are gone; its keys are listed in branch order,
 * so each key is tied to the branch at its index, which is what the discriminator means.
 */
function enforceDiscriminators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(enforceDiscriminators);
  if (typeof node !== 'object' || node === null) return node;
  const schema = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, enforceDiscriminators(v)])) as Schema;
  const discriminator = schema.discriminator as { propertyName?: string; mapping?: Record<string, string> } | undefined;
  const branches = schema.anyOf as Schema[] | undefined;
  const keys = Object.keys(discriminator?.mapping ?? {});
  const property = discriminator?.propertyName;
  if (property === undefined || branches === undefined || keys.length !== branches.length) return schema;
  // "if the property is `key` then branch i", written as "not key, or branch i".
  const rules = keys.map((key, i) => ({
    anyOf: [{ not: { type: 'object', required: [property], properties: { [property]: { const: key } } } }, branches[i]],
  }));
  return { ...schema, allOf: [...((schema.allOf as Schema[] | undefined) ?? []), ...rules] };
}

/**
 * OpenAPI 3.0 allows `nullable: true` beside `allOf` without a `type` (Hetzner's action `error`); ajv's `nullable`
 * support needs a `type`. Such a schema means "this, or null", which is what it becomes here.
 */
function normalizeNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalizeNullable);
  if (typeof node !== 'object' || node === null) return node;
  const schema = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, normalizeNullable(v)])) as Schema;
  if (schema.nullable !== true || 'type' in schema) return schema;
  const { nullable: _, description, ...rest } = schema;
  return { description, anyOf: [rest, { type: 'null' }] };
}

function coerce(raw: string, schema: Schema | undefined): unknown {
  const type = schema?.type;
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}
