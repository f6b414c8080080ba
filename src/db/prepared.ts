import { type Compilable, type CompiledQuery, createQueryId, type Kysely } from 'kysely';

/**
 * A query built and compiled once, then run with new values each time. Kysely builds an operation tree
 * and compiles it to SQL on every call; on the API's hottest path (the key check, the connection read)
 * that was a tenth of a token read's CPU (BENCHMARKS.md). Here the query is built once per
 * database handle with a marker in place of each value, the markers' places among the compiled
 * parameters are noted, and each run hands Kysely's own `executeQuery` (its way to run a compiled query)
 * the same SQL with the values put in those places: drivers and result plugins work as for any query.
 *
 * Only for values Kysely sends as parameters (compared or inserted values), never for names or for
 * anything that changes the SQL's shape (a list of varying length, an optional filter).
 */
const MARK = '\u0000igconnect-prepared:';

export function prepare<DB, V extends Record<string, unknown>, R>(
  build: (db: Kysely<DB>, values: V) => Compilable<R>,
): (db: Kysely<DB>, values: V) => Promise<R[]> {
  // Per handle: a transaction is a handle of its own (and is compiled afresh, as any query is).
  const compiled = new WeakMap<Kysely<DB>, { query: CompiledQuery<R>; names: (string | undefined)[] }>();
  return async (db, values) => {
    let template = compiled.get(db);
    if (!template) {
      const markers = Object.fromEntries(Object.keys(values).map((name) => [name, `${MARK}${name}`]));
      const query = build(db, markers as V).compile();
      const names = query.parameters.map((p) =>
        typeof p === 'string' && p.startsWith(MARK) ? p.slice(MARK.length) : undefined,
      );
      for (const name of Object.keys(values)) {
        if (!names.includes(name)) throw new Error(`prepared query: the value "${name}" is not a parameter`);
      }
      template = { query, names };
      compiled.set(db, template);
    }
    const { query, names } = template;
    const parameters = query.parameters.map((p, i) => {
      const name = names[i];
      return name === undefined ? p : values[name];
    });
    // A query id of its own per run, as Kysely gives every query (plugins keep state by it).
    return (await db.executeQuery<R>({ ...query, parameters, queryId: createQueryId() })).rows;
  };
}
