import { STATUS_CODES } from 'node:http';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * The options of the OpenAPI document at /docs/json (SPEC §9), which test/unit/openapi-lint.test.ts
 * holds to Redocly's recommended rules. The bearer token is declared on every operation (the
 * document's root `security`) but the public ones, which declare none.
 */
export function openapiOptions(publicRoutes: ReadonlySet<string>): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ao',
        version: '1',
        description: 'Control plane for AI coding agent sessions: projects, sessions, PR claims (asynchronous jobs), change events.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      // relative: the document is served by the API it describes
      servers: [{ url: '/', description: 'this server' }],
      tags: [
        { name: 'health', description: 'Liveness and readiness probes (no token needed)' },
        { name: 'projects', description: 'Repositories registered with ao' },
        { name: 'sessions', description: 'Agent sessions in git worktrees, and the pull requests they claim' },
        { name: 'jobs', description: 'Asynchronous jobs: PR claims and batch re-claims' },
        { name: 'events', description: 'The change log (CDC events), paged or streamed' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'AO_API_TOKEN, as `Authorization: Bearer <token>`' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: (route) => {
      // the queue dashboard's own routes (bull-board's UI and its API) are not ao's API
      if (route.url.startsWith('/admin/queues')) return { schema: { ...route.schema, hide: true }, url: route.url };
      const transformed = jsonSchemaTransform(route);
      return publicRoutes.has(route.url) ? { ...transformed, schema: { ...transformed.schema, security: [] } } : transformed;
    },
    transformObject: (document) => withStatusDescriptions(withoutUnusedSchemas(jsonSchemaTransformObject(document) as OpenApiDocument)),
  };
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Record<string, { description?: string }> }>>;
  components?: { schemas?: Record<string, unknown> };
  [key: string]: unknown;
}

/** A response whose schema has no description says its status ("Not Found"), not @fastify/swagger's "Default Response". */
function withStatusDescriptions(document: OpenApiDocument): OpenApiDocument {
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description === 'Default Response' && STATUS_CODES[status]) response.description = STATUS_CODES[status];
      }
    }
  }
  return document;
}

/**
 * fastify-type-provider-zod lists every schema with a `.meta({id})` twice, as `<id>` (output) and
 * `<id>Input` (input), whether or not an operation uses it: keep only the components an operation
 * reaches, directly or through other components.
 */
function withoutUnusedSchemas(document: OpenApiDocument): OpenApiDocument {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const prefix = '#/components/schemas/';
  const refsIn = (value: unknown): string[] =>
    [...JSON.stringify(value).matchAll(/"\$ref":"([^"]+)"/g)].flatMap((m) => (m[1]!.startsWith(prefix) ? [decodeURIComponent(m[1]!.slice(prefix.length))] : []));
  const used = new Set<string>();
  const pending = refsIn({ ...document, components: { ...document.components, schemas: {} } });
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (used.has(name) || !(name in schemas)) continue;
    used.add(name);
    pending.push(...refsIn(schemas[name]));
  }
  return {
    ...document,
    components: { ...document.components, schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name))) },
  };
}
