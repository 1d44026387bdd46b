import type { ErrorDetail } from './errors.js';

/** A refused input's problems as a form shows them: beside each field it has, and the rest apart. */
export interface FieldProblems {
  /** Each field's problems, in the order the details give them. */
  fields: Record<string, string[]>;
  /** The problems of no field the form has (the input as a whole, a field it does not show), with their path. */
  other: string[];
}

/**
 * Sorts a validation error's details by the form field they concern (the first segment of the
 * path: `fairShare.weights.a` is the `fairShare` field's, named `weights.a` in its problem) and
 * writes the field names inside a message as the form labels them (`must be <= maxIntervalMs` →
 * `must be <= Max interval`). `labels` maps each field the form has to its label.
 */
export function problemsByField(details: readonly ErrorDetail[], labels: Readonly<Record<string, string>>): FieldProblems {
  const out: FieldProblems = { fields: {}, other: [] };
  const labelled = (message: string) => message.replace(/\b\w+\b/g, (w) => (Object.hasOwn(labels, w) ? labels[w]! : w));
  for (const d of details) {
    const field = /^[^.[]*/.exec(d.path)![0];
    const message = labelled(d.message);
    if (field === '' || !Object.hasOwn(labels, field)) {
      out.other.push(d.path ? `${d.path}: ${message}` : message);
      continue;
    }
    const inside = d.path.slice(field.length).replace(/^\./, '');
    (out.fields[field] ??= []).push(inside ? `${inside}: ${message}` : message);
  }
  return out;
}
