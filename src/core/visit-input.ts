/**
 * Listed origins as listers report them, checked (the JSON object check uses zod). Apart from
 * visits.ts, which the stores load in every process: a worker never loads zod (docs/architecture.md).
 */
import { z } from 'zod';
import { ValidationError, invalid, type ErrorDetail } from './errors.js';
import { DAG_ATTEMPT_KEY, reservedKwargProblem } from './dag.js';
import { instantProblem } from './instants.js';
import { MAX_JSON_NESTING, assertJson, nestedDeeperThan } from './json-checks.js';
import { checkListerId, checkUrl, checkVisitType, type ListedOriginInput } from './visits.js';

const jsonObject = z.record(z.string(), z.unknown());

/** Validates a batch of listed origins: every problem is reported, and one bad row rejects the batch. */
export function validateListedOrigins(items: unknown, prefix = 'origins'): Required<ListedOriginInput>[] {
  if (!Array.isArray(items)) throw invalid(prefix, 'must be an array of listed origins');
  const problems: ErrorDetail[] = [];
  const out: Required<ListedOriginInput>[] = [];
  items.forEach((raw: unknown, i) => {
    const path = `${prefix}[${i}]`;
    try {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(path, 'must be an object');
      const o = raw as Record<string, unknown>;
      const unknown = Object.keys(o).filter((k) => !['listerId', 'url', 'visitType', 'extraLoaderArguments', 'lastUpdate'].includes(k));
      if (unknown.length) throw invalid(`${path}.${unknown[0]}`, 'unknown field');
      const extra = o.extraLoaderArguments ?? {};
      if (!jsonObject.safeParse(extra).success) throw invalid(`${path}.extraLoaderArguments`, 'must be a JSON object');
      const reserved = reservedKwargProblem(extra as Record<string, unknown>);
      if (reserved !== null) throw invalid(`${path}.extraLoaderArguments.${DAG_ATTEMPT_KEY}`, reserved);
      // One level less than other JSON: it becomes the kwargs of its visit task's arguments, which may nest
      // MAX_JSON_NESTING levels (an origin one level deeper failed every visit-scheduler pass of its visit type).
      const tooDeep = () => invalid(`${path}.extraLoaderArguments`, `JSON nested deeper than ${MAX_JSON_NESTING - 1} levels (it becomes the kwargs of its visit tasks' arguments, which may nest ${MAX_JSON_NESTING})`);
      try {
        assertJson(extra, `${path}.extraLoaderArguments`); // storable text, and not nested past the limit
      } catch (e) {
        throw nestedDeeperThan(extra, MAX_JSON_NESTING) ? tooDeep() : e; // the limit named is this one
      }
      try {
        assertJson({ kwargs: extra }, 'arguments');
      } catch {
        throw tooDeep();
      }
      const lastUpdate = o.lastUpdate ?? null;
      if (lastUpdate !== null && !(lastUpdate instanceof Date && !Number.isNaN(lastUpdate.getTime()))) throw invalid(`${path}.lastUpdate`, 'must be a valid instant or null');
      const problem = lastUpdate === null ? null : instantProblem(lastUpdate);
      if (problem) throw invalid(`${path}.lastUpdate`, problem);
      out.push({
        listerId: checkListerId(o.listerId, `${path}.listerId`),
        url: checkUrl(o.url, `${path}.url`),
        visitType: checkVisitType(o.visitType, `${path}.visitType`),
        extraLoaderArguments: JSON.parse(JSON.stringify(extra)) as Record<string, unknown>,
        lastUpdate,
      });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
    }
  });
  if (problems.length) throw new ValidationError(`${problems[0]!.path}: ${problems[0]!.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, problems);
  return out;
}

