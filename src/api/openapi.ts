import type { TSchema } from '@sinclair/typebox';
import type { Route } from './router.js';
import { COMPONENTS, ErrorBody } from './schemas.js';

/** TypeBox refs name a schema by $id; OpenAPI wants a JSON pointer into components. */
function pointers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointers);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === '$ref' && typeof v === 'string' && !v.startsWith('#') ? `#/components/schemas/${v}` : pointers(v);
    }
    return out;
  }
  return value;
}

function schemaRef(s: TSchema): unknown {
  return s.$id ? { $ref: `#/components/schemas/${s.$id}` } : pointers(s);
}

/** Parameters of a path or query schema, one by one. */
function parameters(schema: TSchema | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const props = (schema.properties ?? {}) as Record<string, TSchema>;
  const required = new Set<string>((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === 'path' || required.has(name), schema: pointers(s) }));
}

const MEDIA_TYPE = /^[a-z]+\/[a-z0-9.+-]+$/;

/** The OpenAPI 3.1 document, generated from the very schemas that validate requests. */
export function openApiDocument(routes: Route[], version: string, bearerRequired: boolean): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:([a-z_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, s] of Object.entries(r.responses)) {
      if (typeof s === 'string') {
        // "image/jpeg, image/webp": the media types a raw answer may have; any other text describes it.
        const types = s.split(/,\s*/);
        responses[status] = types.every((m) => MEDIA_TYPE.test(m)) ? { description: s, content: Object.fromEntries(types.map((m) => [m, {}])) } : { description: s };
      } else {
        responses[status] = { description: (s.description as string | undefined) ?? 'success', content: { 'application/json': { schema: schemaRef(s) } } };
      }
    }
    responses['401'] ??= { description: 'a valid bearer token is required', content: { 'application/json': { schema: schemaRef(ErrorBody) } } };
    (paths[p] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${p.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(r.body) } } } } : {}),
      responses,
      'x-lumina-access': r.access,
    };
  }
  const schemas: Record<string, unknown> = {};
  for (const s of COMPONENTS) schemas[s.$id!] = pointers(JSON.parse(JSON.stringify(s)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lumina',
      version,
      description:
        'Ingest and de-duplicate photo and video archives. Live progress: WebSocket /ws ' +
        '(send {"type":"subscribe","job_id":ID} or {"type":"subscribe","catalog_id":ID}). ' +
        (bearerRequired ? 'Every request needs a bearer token.' : 'Bound to loopback: tokens are optional.'),
    },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
