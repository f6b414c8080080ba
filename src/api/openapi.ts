import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';

/**
 * Each API operation is declared once, with the zod schemas of its path parameters, query and body. The
 * same schemas validate every request (a failure is a 400 `invalid_request` naming the field) and make
 * the OpenAPI 3.1 document served at GET /api/v1/openapi.json: what is documented is what is enforced.
 */
export interface Operation<Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'delete';
  /** Express path under /api/v1, e.g. `/connections/:id`. */
  path: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: Q;
  body?: B;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  /** False for the few operations that need no key. */
  authenticated?: boolean;
}

export interface Input<Q extends z.ZodType, B extends z.ZodType> {
  params: Record<string, string>;
  query: z.output<Q>;
  body: z.output<B>;
}

type Handler<Q extends z.ZodType, B extends z.ZodType> = (
  input: Input<Q, B>,
  req: Request,
  res: Response,
) => Promise<void>;

// Made once: zod compiles an object schema into a parser the first time it is used, so a schema made per
// request was compiled on every request.
const NO_PARAMS = z.object({});
const NO_QUERY = z.object({}).strict();

export class ApiDefinition {
  private readonly operations: Operation[] = [];

  /** Declares an operation and mounts it on `router`, validating its input first. */
  route<Q extends z.ZodType, B extends z.ZodType>(
    router: Router,
    operation: Operation<Q, B>,
    handler: Handler<Q, B>,
    ...before: RequestHandler[]
  ): void {
    this.operations.push(operation as unknown as Operation);
    const handle: RequestHandler = async (req, res) => {
      const params = (operation.params ?? NO_PARAMS).parse(req.params) as Record<string, string>;
      const query = (operation.query ?? NO_QUERY).parse(req.query ?? {}) as z.output<Q>;
      const body = (operation.body ? operation.body.parse(req.body ?? {}) : undefined) as z.output<B>;
      await handler({ params, query, body }, req, res);
    };
    router[operation.method](operation.path, ...before, handle);
  }

  document(info: { title: string; version: string; serverUrl: string }): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const op of this.operations) {
      // Express's `:name`, and its wildcard `*name` or `{/*name}` (the rest of the path), as `{name}`.
      const path = op.path.replace(/\{\/\*([A-Za-z_]+)\}/g, '/{$1}').replace(/[:*]([A-Za-z_]+)/g, '{$1}');
      const rest = [...op.path.matchAll(/\*([A-Za-z_]+)/g)].map(([, name]) => ({
        name,
        in: 'path',
        required: true,
        description: 'The rest of the path, slashes included',
        schema: { type: 'string' },
      }));
      const parameters = [
        ...properties(op.params).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
        ...rest,
        ...properties(op.query).map(([name, schema, required]) => ({ name, in: 'query', required, schema })),
      ];
      const responses: Record<string, object> = {};
      for (const [status, response] of Object.entries(op.responses)) {
        responses[status] = {
          description: response.description,
          ...(response.schema ? { content: { 'application/json': { schema: jsonSchema(response.schema) } } } : {}),
        };
      }
      (paths[`/api/v1${path}`] ??= {})[op.method] = {
        summary: op.summary,
        ...(op.description ? { description: op.description } : {}),
        ...(op.authenticated === false ? { security: [] } : {}),
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(op.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } }
          : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: info.title, version: info.version },
      servers: [{ url: info.serverUrl }],
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (igc_…).' } },
      },
      security: [{ apiKey: [] }],
      paths,
    };
  }
}

function jsonSchema(schema: z.ZodType): object {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** The properties of an object schema as (name, JSON schema, required). */
function properties(schema: z.ZodType | undefined): [string, object, boolean][] {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => [
    name,
    property,
    (json.required ?? []).includes(name),
  ]);
}
