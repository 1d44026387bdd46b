/** Which request bodies may be left out: shared by the server (app.ts) and its OpenAPI document. */

/** Whether a route's body schema takes `{}` (every field optional), so the body may be left out. */
const optionalBodies = new WeakMap<object, boolean>();
export function bodyOptional(schema: object): boolean {
  let ok = optionalBodies.get(schema);
  if (ok === undefined) {
    ok = (schema as { safeParse(v: unknown): { success: boolean } }).safeParse({}).success;
    optionalBodies.set(schema, ok);
  }
  return ok;
}
