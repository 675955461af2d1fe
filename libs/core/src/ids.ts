const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical UUID; lets services answer "not found" for ids Postgres would reject as malformed. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
