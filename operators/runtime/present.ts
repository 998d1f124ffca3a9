// Objects written by server-side apply or sent as answers carry only the fields that have a value:
// an explicit undefined is noise in a diff and, in JSON, a key that means nothing.

/** `fields` without the keys whose value is undefined. */
export function present<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
