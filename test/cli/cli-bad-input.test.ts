/**
 * Bad input through the built binary: exit 2, one line on stderr naming the bad field or argument,
 * nothing on stdout, and the database unchanged (every row of every table compared before and after).
 * Unreadable databases: exit 1 (I/O), and the file is left alone.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dumpDb, errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, tempDir, type TempDb } from './cli-helpers.js';
import { createTestDatabase } from '../support/postgres.js';

afterAll(removeTempDirs);

const UNKNOWN_RUN = '00000000-0000-4000-8000-000000000000';

describe('invalid input: exit 2, a one-line message naming the problem, nothing written', () => {
  let fixture: TempDb;
  let fixtureDump: Record<string, unknown[]>;
  let startedRun = '';
  let scheduledRun = '';

  beforeAll(async () => {
    fixture = tempDb();
    await runOk(
      ['task-type', 'add', 'load-git', '--default-interval', '1d', '--min-interval', '12h', '--max-interval', '64d', '--backoff-factor', '2', '--num-retries', '1', '--retry-delay', '1h', ...fixture.db],
    );
    await Promise.all([
      runOk(['task', 'add', 'load-git', 'https://example.org/a.git', 'depth=2', '--next-run', '2026-01-01T00:00:00Z', ...fixture.db]),
      runOk(['task', 'add', 'load-git', 'https://example.org/b.git', '--next-run', '2026-01-02T00:00:00Z', ...fixture.db]),
      // Not due at the first pass below: stays next_run_not_scheduled, so `task schedule` would change it.
      runOk(['task', 'add', 'load-git', 'https://example.org/c.git', '--next-run', '2026-03-01T00:00:00Z', ...fixture.db]),
    ]);
    const runs = await runJson<any[]>(['task', 'schedule', '--at', '2026-01-02T00:00:00Z', '--json', ...fixture.db]);
    expect(runs).toHaveLength(2);
    [startedRun, scheduledRun] = runs.map((r) => r.backendId);
    await runOk(['run', 'start', startedRun, '--at', '2026-01-02T00:00:05Z', ...fixture.db]);
    fixtureDump = dumpDb(fixture.path);
    expect(fixtureDump.task_types).toHaveLength(1);
    expect(fixtureDump.tasks).toHaveLength(3);
    expect(fixtureDump.task_runs).toHaveLength(2);
  });

  /** A private copy of the fixture database, so cases can run concurrently and each proves it wrote nothing. */
  function copyOfFixture(): TempDb {
    const copy = tempDb();
    for (const suffix of ['', '-wal']) if (existsSync(fixture.path + suffix)) copyFileSync(fixture.path + suffix, copy.path + suffix);
    return copy;
  }

  // [what, argv (the --db of a copy of the fixture is appended; STARTED / SCHEDULED stand for run ids), text the message must contain]
  const cases: [string, string[], (string | RegExp)[]][] = [
    ['unknown task type in task add', ['task', 'add', 'nope', 'https://x'], ['type: unknown task type "nope"']],
    ['malformed --rate-limit', ['task-type', 'add', 't2', '--rate-limit', '100'], ['--rate-limit', 'COUNT/DURATION']],
    ['--rate-limit of zero', ['task-type', 'add', 't2', '--rate-limit', '0/1m'], ['--rate-limit', 'positive integer']],
    ['--max-running of zero', ['task-type', 'add', 't2', '--max-running', '0'], ['--max-running', 'at least 1']],
    ['unknown --on-conflict', ['task', 'add', 'load-git', 'https://x', '--on-conflict', 'merge'], ['--on-conflict', "'merge'"]],
    ['empty --key', ['task', 'add', 'load-git', 'https://x', '--key', ''], ['key: must not be empty']],
    ['the DAG scheduler\'s kwarg in task add', ['task', 'add', 'load-git', 'https://x', 'orrery.dag=1'], ['arguments.kwargs.orrery.dag: is reserved for the attempts the DAG scheduler makes']],
    ['run cancel of an unknown run', ['run', 'cancel', UNKNOWN_RUN], ['not found']],
    ['task add --on-conflict error on an equal active task', ['task', 'add', 'load-git', 'https://example.org/c.git', '--next-run', '2026-03-01T00:00:00Z', '--on-conflict', 'error'], ['with the same definition is active', 'nothing created']],
    ['malformed --default-interval', ['task-type', 'add', 't2', '--default-interval', '1x'], ['--default-interval', '"1x"']],
    ['malformed --lease', ['task-type', 'add', 't2', '--default-interval', '1d', '--lease', 'abc'], ['--lease', '"abc"']],
    ['bad JSON in KEY=VALUE', ['task', 'add', 'load-git', 'https://x', 'cfg={bad'], ['argument cfg', 'invalid JSON', '{bad']],
    ['bad JSON in run end --metadata', ['run', 'end', 'STARTED', '--status', 'eventful', '--metadata', '{bad'], ['--metadata', 'invalid JSON']],
    ['run end --metadata not an object', ['run', 'end', 'STARTED', '--status', 'eventful', '--metadata', '[1]'], ['--metadata', 'must be a JSON object']],
    ['run start --metadata not an object', ['run', 'start', 'SCHEDULED', '--metadata', '"x"'], ['--metadata', 'must be a JSON object']],
    ['unknown --status in task list', ['task', 'list', '--status', 'bogus'], ['--status', "'bogus'"]],
    ['unknown --status in run end', ['run', 'end', 'STARTED', '--status', 'bogus'], ['--status', "'bogus'"]],
    ['unknown --priority', ['task', 'add', 'load-git', 'https://x', '--priority', 'urgent'], ['--priority', "'urgent'"]],
    ['invalid cron', ['task', 'add', 'load-git', 'https://x', '--cron', 'bad cron'], ['schedule.expr', '"bad cron"']],
    ['invalid --tz', ['task', 'add', 'load-git', 'https://x', '--cron', '0 3 * * *', '--tz', 'Mars/Base'], ['schedule.tz', '"Mars/Base"']],
    ['--tz without --cron', ['task', 'add', 'load-git', 'https://x', '--tz', 'Europe/Warsaw'], ['--tz']],
    ['invalid rrule', ['task', 'add', 'load-git', 'https://x', '--rrule', 'FREQ=NOPE'], ['schedule.rule', 'FREQ=NOPE']],
    ['--cron with --rrule', ['task', 'add', 'load-git', 'https://x', '--cron', '0 3 * * *', '--rrule', 'FREQ=DAILY'], ['--cron', '--rrule']],
    ['a oneshot task on a cron schedule', ['task', 'add', 'load-git', 'https://x', '--policy', 'oneshot', '--cron', '0 3 * * *'], ['schedule', 'oneshot']],
    ['negative --max-queue-length', ['task-type', 'add', 't2', '--max-queue-length', '-1'], ['--max-queue-length', '"-1"']],
    ['negative --limit', ['task', 'list', '--limit', '-5'], ['--limit', '"-5"']],
    // A zero limit would print `no tasks found` while tasks exist.
    ['zero --limit in task list', ['task', 'list', '--limit', '0'], ['--limit', 'at least 1']],
    ['zero --limit in task list-pending', ['task', 'list-pending', 'load-git', '--limit', '0'], ['--limit', 'at least 1']],
    // The service's range (0 to 2^31-1) contradicted the option's "at least 1".
    ['--limit past 2^31-1 in task list-pending', ['task', 'list-pending', 'load-git', '--limit', '99999999999'], ['--limit', 'at most 2147483647']],
    // One reason: an empty name was also said to contain spaces.
    ['task-type add --backend-name empty', ['task-type', 'add', 't2', '--default-interval', '1d', '--backend-name', ''], [/backendName: must not be empty$/]],
    // `--token "$UNSET"` would serve the API without a token (or send none).
    ['serve --token empty', ['serve', '--port', '0', '--token', ''], ['--token', 'must not be empty']],
    ['worker --request-timeout without --url', ['worker', '--handlers', 'h.mjs', '--request-timeout', '5s'], ['--request-timeout', 'needs --url']],
    ['worker --request-timeout too short', ['worker', '--url', 'http://127.0.0.1:9', '--handlers', 'h.mjs', '--request-timeout', '1ms'], ['--request-timeout', 'at least 10ms']],
    // A timer longer than 2^31 - 1 ms fires at once: every request timed out at once and the worker never started.
    ['worker --request-timeout past a timer', ['worker', '--url', 'http://127.0.0.1:9', '--handlers', 'h.mjs', '--request-timeout', '30d'], ['--request-timeout', 'at most 2147483647ms']],
    ['worker --grace past a timer', ['worker', '--handlers', 'h.mjs', '--grace', '30d'], ['--grace', 'at most 2147483647ms']],
    ['worker --poll past a timer', ['worker', '--handlers', 'h.mjs', '--poll', '30d'], ['--poll', 'at most 2147483647ms']],
    ['runner --max-sleep past a timer', ['runner', '--max-sleep', '30d'], ['--max-sleep', 'at most 2147483647ms']],
    ['serve --runner-grace past a timer', ['serve', '--port', '0', '--runner-grace', '30d'], ['--runner-grace', 'at most 2147483647ms']],
    ['worker --url with a bad port', ['worker', '--url', 'http://127.0.0.1:99999', '--handlers', 'h.mjs'], ['--url', 'is not a URL']],
    ['worker --url with a query', ['worker', '--url', 'http://127.0.0.1:9/?x=1', '--handlers', 'h.mjs'], ['--url', 'must not have a query']],
    ['task import --url not http', ['task', 'import', 'x.ndjson', '--url', 'ftp://127.0.0.1:9'], ['--url', 'must start with http']],
    // Accepted, then every claim failed (the claim limit is stored in a 4-byte integer).
    ['worker --concurrency too large', ['worker', '--handlers', 'h.mjs', '--concurrency', '2147483647'], ['--concurrency', 'at most 100000']],
    ['worker --prefetch too large', ['worker', '--handlers', 'h.mjs', '--prefetch', '1000001'], ['--prefetch', 'at most 1000000']],
    ['worker --max-memory too large', ['worker', '--handlers', 'h.mjs', '--isolation', 'thread', '--max-memory', '99999999999'], ['--max-memory', 'at most 1048576']],
    ['serve --port past 65535', ['serve', '--port', '70000'], ['--port', 'at most 65535']],
    // An empty value served every type.
    ['worker --types empty', ['worker', '--handlers', 'h.mjs', '--types', ''], ['--types', 'names no task type']],
    ['worker --types with an empty name', ['worker', '--handlers', 'h.mjs', '--types', 'a,,b'], ['--types', 'has an empty name between its commas']],
    ['visit-scheduler --visit-types with an empty name', ['visit-scheduler', '--visit-types', 'git,,hg', '--once'], ['--visit-types', 'has an empty name between its commas']],
    ['visit-scheduler --visit-types twice', ['visit-scheduler', '--visit-types', 'git,git', '--once'], ['--visit-types', 'named twice']],
    // The daemon started and failed every pass ('count: must be an integer from 0 to 2147483647'), with --once it named count (CLI audit).
    ['visit-scheduler --refill in hexadecimal (Number() read 0x1 as 1)', ['visit-scheduler', '--visit-types', 'git', '--once', '--refill', '0x1'], ['--refill', '"0x1" is not a fraction in (0, 1]']],
    ['visit-scheduler --refill in binary', ['visit-scheduler', '--visit-types', 'git', '--once', '--refill', '0b1'], ['--refill', '"0b1" is not a fraction in (0, 1]']],
    ['visit-scheduler --absolute-cooldown past 100 years, named as the option (a daemon started and failed every pass)', ['visit-scheduler', '--visit-types', 'load-git', '--once', '--absolute-cooldown', '40000d'], ['--absolute-cooldown: must be a non-negative number of milliseconds, at most 100 years']],
    ['visit-scheduler --queue past int4', ['visit-scheduler', '--visit-types', 'git', '--queue', '99999999999'], ['--queue', 'at most 2147483647']],
    // It said 'limit: must be an integer from 0 to 2147483647' (0 is refused).
    ['dag runs --limit past int4', ['dag', 'runs', 'x', '--limit', '2147483648'], ['--limit', 'at most 2147483647']],
    // The parser's suggestion was joined by a literal \n.
    ['an unknown option with a suggestion', ['task', 'list', '--jsn'], [/unknown option '--jsn' \(Did you mean --json\?\)$/]],
    ['worker --token with a space', ['worker', '--url', 'http://127.0.0.1:9', '--token', 'two words'], ['--token', 'printable ASCII']],
    // The registry refuses ids over 200 characters, the jobboard over 256: a worker would start and fail every 10 s.
    ['worker --notify-webhook not http', ['worker', '--handlers', 'h.mjs', '--notify-webhook', 'ftp://alerts.example'], ['--notify-webhook', 'must be http or https']],
    ['serve --notify-webhook not a URL', ['serve', '--port', '0', '--notify-webhook', 'alerts'], ['--notify-webhook', 'not a URL']],
    ['--notify-webhook with credentials', ['serve', '--port', '0', '--notify-webhook', 'http://alice:s3cret@127.0.0.1:9/hook'], ['--notify-webhook http://***@127.0.0.1:9/hook', 'must not hold credentials', 'the CLI sends no headers', /^(?!.*s3cret)/]], // the password not printed; no header option to point to
    // The option parser quotes a refused argument back: its credentials hidden, and a token shown as *** (security audit, 2026-12-06).
    ['--notify-webhook with credentials that is not a URL', ['runner', '--notify-webhook', 'http://hookuser:HkPw9@127.0.0.1:99999/hook'], ['hookuser:***@127.0.0.1:99999', 'is not a URL', /^(?!.*HkPw9)/]],
    ['--notify-webhook with credentials and another scheme', ['runner', '--notify-webhook', 'ftp://u:FtPw9@host/hook'], [/--notify-webhook ftp:\/\/\*\*\*@host\/hook: must be http or https$/]],
    ['worker --url with credentials', ['worker', '--url', 'http://wuser:WkPw9@127.0.0.1:5481', '--handlers', 'h.mjs'], ['must not carry credentials', /^(?!.*WkPw9)/]],
    ['serve --token with a space', ['serve', '--port', '0', '--token', 'a Secret'], ["--token <token>' argument '***' is invalid", /^(?!.*Secret)/]],
    ["serve --token holding the refusal's own words", ['serve', '--port', '0', '--token', "x' is invalid Secret"], ["--token <token>' argument '***' is invalid", /^(?!.*Secret)/]],
    ["--db with a quote in a mistyped URL's password", ['task-type', 'list', '--db', "postgres:/u:it's@h/db"], [/^(?!.*it's)/]],
    ['worker --notify-retries without --notify-webhook', ['worker', '--handlers', 'h.mjs', '--notify-retries'], ['--notify-retries: needs --notify-webhook']],
    ['worker --url with --notify-webhook', ['worker', '--url', 'http://127.0.0.1:9', '--handlers', 'h.mjs', '--notify-webhook', 'http://127.0.0.1:9/hook'], ['--notify-webhook: not with --url']],
    ['worker --id too long', ['worker', '--handlers', 'h.mjs', '--id', 'w'.repeat(201)], ['--id', 'at most 200 characters']],
    ['serve --id empty', ['serve', '--port', '0', '--id', ''], ['--id', 'at most 200 characters']],
    // An empty file name was taken as none given: simulate wrote into the working directory, a worker started without handlers.
    ['simulate --out empty', ['simulate', 'scenario.json', '--out', ''], ['--out', 'must not be empty']],
    ['simulate --compare empty', ['simulate', 'scenario.json', '--compare', ''], ['--compare', 'must not be empty']],
    ['worker --handlers empty', ['worker', '--handlers', ''], ['--handlers', 'must not be empty']],
    ['serve --handlers empty', ['serve', '--port', '0', '--handlers', ''], ['--handlers', 'must not be empty']],
    // Without --handlers serve runs no worker: its worker's options would do nothing.
    ['serve --prefetch without --handlers', ['serve', '--port', '0', '--prefetch', '7'], ['--prefetch', 'needs --handlers']],
    ['serve --max-memory without --handlers', ['serve', '--port', '0', '--max-memory', '64'], ['--max-memory', 'needs --handlers']],
    // A listing filtered by a type that does not exist is a typo, not an empty listing
    ['task list --type unknown', ['task', 'list', '--type', 'nope'], ['--type', 'unknown task type "nope"']],
    ['task-type list --type unknown', ['task-type', 'list', '-t', 'load-git', '-t', 'nope'], ['--type', 'unknown task type "nope"']],
    ['task bulk --type unknown', ['task', 'bulk', 'disable', '--type', 'nope'], ['--type', 'unknown task type "nope"']],
    ['task bulk --run-type unknown', ['task', 'bulk', 'cancel', '--run-type', 'nope'], ['--run-type', 'unknown task type "nope"']],
    ['task bulk disable --next-run', ['task', 'bulk', 'disable', '--all', '--next-run', '2030-01-01'], ['--next-run only applies to respawn and redrive (not disable)']],
    ['run list --type unknown', ['run', 'list', '--type', 'nope'], ['--type', 'unknown task type "nope"']],
    ['origin update-metrics of an unknown lister', ['origin', 'update-metrics', '--lister', '00000000-0000-0000-0000-000000000000'], ['lister 00000000-0000-0000-0000-000000000000 not found']],
    ['origin metrics of an unknown lister', ['origin', 'metrics', '--lister', '00000000-0000-0000-0000-000000000000'], ['lister 00000000-0000-0000-0000-000000000000 not found']],
    ['multi-line rrule', ['task', 'add', 'load-git', 'https://x', '--rrule', 'FREQ=DAILY\nRDATE:20260105T000000Z'], ['schedule.rule', 'FREQ=DAILY\\nRDATE']],
    ['a "__proto__" key nested in a kwarg', ['task', 'add', 'load-git', 'https://x', 'k={"a":{"__proto__":1}}'], ['arguments.kwargs.k.a.__proto__', 'not accepted']],
    ['a "__proto__" key nested in run end --metadata', ['run', 'end', 'STARTED', '--status', 'eventful', '--metadata', '{"a":{"__proto__":{}}}'], ['metadata.a.__proto__', 'not accepted']],
    ['--backoff-factor in hex', ['task-type', 'add', 't2', '--default-interval', '1d', '--backoff-factor', '0x10'], ['--backoff-factor', '"0x10" is not a number']],
    ['--fair-share with a fractional weight', ['task-type', 'add', 't2', '--default-interval', '1d', '--fair-share', 'a=1.5'], ['fairShare.weights.a', 'must be an integer']],
    ['--fair-share with a key twice', ['task-type', 'add', 't2', '--default-interval', '1d', '--fair-share', 'a=2,a=3'], ['--fair-share', 'key "a" given twice']],
    ['JSON nested 10,000 deep in an argument', ['task', 'add', 'load-git', `d=${'['.repeat(10_000)}${']'.repeat(10_000)}`], ['arguments: JSON nested deeper than 128 levels']],
    ['JSON nested 10,000 deep in run end --result', ['run', 'end', 'STARTED', '--status', 'eventful', '--result', `${'['.repeat(10_000)}${']'.repeat(10_000)}`], ['result: JSON nested deeper than 128 levels']],
    ['--fair-share with a __proto__ weight', ['task-type', 'add', 't2', '--default-interval', '1d', '--fair-share', '{"__proto__":{"polluted":1}}'], ['--fair-share', '"__proto__" is not accepted']],
    ['--fair-share with a missing comma', ['task-type', 'add', 't2', '--default-interval', '1d', '--fair-share', 'a=3 b=2'], ['fairShare.weights.a', 'must be a whole number from 1']],
    ['run start --worker empty', ['run', 'start', 'SCHEDULED', '--worker', ''], ['--worker', 'at most 200 characters']],
    ['run start --worker of blanks', ['run', 'start', 'SCHEDULED', '--worker', '  '], ['--worker', 'a non-empty string of at most 200 characters']],
    ['worker --types naming a type twice', ['worker', '--handlers', 'h.mjs', '--types', 'a,b,a'], ['--types', '"a" is named twice']],
    ['worker --token without --url', ['worker', '--handlers', 'h.mjs', '--token', 's3cret'], ['--token: needs --url']],
    ['status --token without --url', ['status', '--token', 's3cret'], ['--token: needs --url']],
    ['task import --token without --url', ['task', 'import', 'tasks.jsonl', '--token', 's3cret'], ['--token: needs --url']],
    ['task import --token empty', ['task', 'import', 'tasks.jsonl', '--token', ''], ['--token', 'must not be empty']],
    ['run end --retry-after over 100 years', ['run', 'end', 'STARTED', '--status', 'failed', '--retry-after', '36501d'], ['retryAfterMs: must be at most 100 years']],
    ['run end --retry-after of 2^53-1 ms', ['run', 'end', 'STARTED', '--status', 'failed', '--retry-after', '9007199254740991'], ['retryAfterMs: must be at most 100 years']],
    ['run end --retry-after with a status other than failed', ['run', 'end', 'STARTED', '--status', 'eventful', '--retry-after', '5m'], ['--retry-after', 'failed']],
    ['--backoff-factor 0', ['task-type', 'add', 't2', '--default-interval', '1d', '--backoff-factor', '0'], ['backoffFactor', '> 0']],
    ['min interval > max interval', ['task-type', 'add', 't2', '--min-interval', '2d', '--max-interval', '1d'], ['minIntervalMs: must be <= maxIntervalMs']],
    ['invalid task type name', ['task-type', 'add', 'Bad Name'], ['name: must match']],
    ['task show of a non-numeric id', ['task', 'show', 'abc'], ['ID', '"abc"']],
    ['task backfill-cancel of a non-numeric id', ['task', 'backfill-cancel', 'abc'], ['BACKFILL: "abc" is not a backfill id']],
    ['task show of an unknown id', ['task', 'show', '999999'], ['task 999999 not found']],
    ['run end of an unknown backend id', ['run', 'end', UNKNOWN_RUN, '--status', 'eventful'], [`run ${UNKNOWN_RUN} not found`]],
    ['run start of a started run', ['run', 'start', 'STARTED'], ['STARTED', 'nothing changed']],
    ['run end of a run never started', ['run', 'end', 'SCHEDULED', '--status', 'eventful'], ['SCHEDULED', 'nothing changed']],
    ['task-type add of an existing name', ['task-type', 'add', 'load-git', '--default-interval', '2d'], ['task type "load-git" already exists']],
    ['task schedule of an unknown type', ['task', 'schedule', '-t', 'nope', '--at', '2026-06-01T00:00:00Z'], ['--type', '"nope"']],
    ['unknown option', ['task', 'list', '--bogus'], ["'--bogus'"]],
    ['bad --next-run', ['task', 'add', 'load-git', 'https://x', '--next-run', 'notadate'], ['--next-run', '"notadate"']],
    ['--at on a day that does not exist (task schedule)', ['task', 'schedule', '--at', '2026-02-30'], ['--at', '"2026-02-30"']],
    ['a value holding a newline, shown escaped on one line', ['task-type', 'delete', '\t\n'], ['unknown task type "\\t\\n"']],
    ['a 100,000-character value, cut in the message', ['task', 'show', '['.repeat(100_000)], [/^orrery: ID: .{1000,2000}characters left out\) ….{100}$/]],
    ['a 100,000-character option value, cut in commander\'s message', ['task', 'list', '--status', 'x'.repeat(100_000)], [/characters left out/]],
    // JSON.parse reads every number as a double: an integer past 2^53-1 would be stored rounded, not as typed.
    ['an integer past 2^53-1 as an argument', ['task', 'add', 'load-git', 'https://x', '9007199254740993'], ['orrery: argument 2: the number 9007199254740993 cannot be kept exactly', 'it would be read as 9007199254740992', `quote it as a JSON string: '"9007199254740993"'`]],
    ['an integer past 2^53-1 as a kwarg', ['task', 'add', 'load-git', 'https://x', 'k=12345678901234567890'], ['argument k: the number 12345678901234567890', 'read as 12345678901234567168', `'k="12345678901234567890"'`]],
    ['an integer past 2^53-1 nested in a kwarg', ['task', 'add', 'load-git', 'https://x', 'cfg={"ids":[1,-9007199254740993]}'], ['argument cfg: the number -9007199254740993 at ids[1] cannot be kept exactly', 'write that number in quotes']],
    ['an integer past any double in a kwarg', ['task', 'add', 'load-git', 'https://x', `n=[${'9'.repeat(400)}]`], [/^orrery: argument n: the number 9{400} at \[0\] cannot be kept exactly .*read as Infinity\)/]],
    ['an integer past 2^53-1 in run end --metadata', ['run', 'end', 'STARTED', '--status', 'eventful', '--metadata', '{"a":{"n":12345678901234567890}}'], ['--metadata', 'the number 12345678901234567890 at a.n cannot be kept exactly']],
    ['an integer past 2^53-1 as run end --result', ['run', 'end', 'STARTED', '--status', 'eventful', '--result', '9007199254740993'], ['--result', `'"9007199254740993"'`]],
    ['an integer past 2^53-1 in run start --metadata', ['run', 'start', 'SCHEDULED', '--metadata', '{"n":9007199254740992}'], ['--metadata', 'the number 9007199254740992 at n']],
    ['an integer past 2^53-1 in origin record --extra', ['origin', 'record', '00000000-0000-4000-8000-000000000000', 'https://x', 'git', '--extra', '{"rev":12345678901234567890}'], ['--extra', 'the number 12345678901234567890 at rev']],
    ['an integer past 2^53-1 in dag trigger --params', ['dag', 'trigger', 'nope', '--params', '{"n":[[9007199254740993]]}'], ['--params', 'the number 9007199254740993 at n[0][0]']],
    // Commander takes the last value of an option given twice without a word: the first would be lost.
    ['an option given twice', ['task', 'list', '--limit', '3', '--limit', '4'], ['orrery: option --limit given twice: give it once']],
    // And a flag with its negation: the last was taken, the other dropped without a word.
    ['a flag and its negation', ['task', 'list', '--paused', '--no-paused'], ['orrery: --paused and --no-paused contradict each other: give one of them']],
    ['a negation and its flag', ['task-type', 'edit', 'load-git', '--no-fifo-per-key', '--fifo-per-key'], ['orrery: --fifo-per-key and --no-fifo-per-key contradict each other']],
    ['--db before the command and again after it', ['--db', 'sqlite::memory:', 'task', 'list'], ['orrery: option --db given twice']],
    ['--db twice before the command (and once after)', ['--db', 'sqlite::memory:', '--db', 'sqlite::memory:', 'task', 'list'], ['orrery: option --db given twice']],
    ['--db before the command and again after its group', ['--db', 'sqlite::memory:', 'task', '--db', 'sqlite::memory:', 'list'], ['orrery: option --db given twice']],
    ['--db= twice after the group', ['task', '--db=sqlite::memory:', '--db=sqlite::memory:', 'list'], ['orrery: option --db given twice']],
    ['--at on a day that does not exist (run end)', ['run', 'end', 'STARTED', '--status', 'eventful', '--at', '2026-02-30T00:00:00Z'], ['--at', '2026-02-30']],
  ];

  test.concurrent.each(cases)('%s', async (_what, argv, mentions) => {
    const copy = copyOfFixture();
    const ids = (s: string) => s.replace('STARTED', startedRun).replace('SCHEDULED', scheduledRun);
    const r = await runCli([...argv.map(ids), ...copy.db]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    // One line on stderr, the option parser's usage hint included at its end.
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    const lines = errorLines(r.stderr);
    for (const m of mentions) {
      if (typeof m === 'string') expect(lines[0]).toContain(ids(m));
      else expect(lines[0]).toMatch(m);
    }
    expect(dumpDb(copy.path)).toEqual(fixtureDump);
  });

  test('--db before the command, then an option without its value at the end: the option is named', async () => {
    // The URL was moved to the end, where `--to` took `--db` as its file and the URL became an "unknown action".
    const copy = copyOfFixture();
    const r = await runCli(['--db', copy.db[1]!, 'archive', '--before', '2026-01-01', '--to']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("option '--to <file>' argument missing");
    expect(dumpDb(copy.path)).toEqual(fixtureDump);
  });

  test('--db without its URL, alone or after a command group: the URL is said to be missing (it was an unknown option)', async () => {
    for (const argv of [['--db'], ['task', '--db'], ['task', 'list', '--db']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim(), argv.join(' ')).toBe("error: option '--db <url>' argument missing (run with --help for usage)");
    }
  });

  test('the listings the user would compare are unchanged too', async () => {
    // One end-to-end check through the CLI itself: a failing write on the fixture, listings before and after.
    const before = await Promise.all([runOk(['task', 'list', '--json', ...fixture.db]), runOk(['task-type', 'list', '--json', ...fixture.db])]);
    const failed = await runCli(['task', 'add', 'load-git', 'https://x', 'cfg={bad', ...fixture.db]);
    expect(failed.code).toBe(2);
    const after = await Promise.all([runOk(['task', 'list', '--json', ...fixture.db]), runOk(['task-type', 'list', '--json', ...fixture.db])]);
    expect(after).toEqual(before);
    expect(JSON.parse(after[0]!)).toHaveLength(3);
    expect(dumpDb(fixture.path)).toEqual(fixtureDump);
  });
});

describe('integers in JSON arguments', () => {
  test('up to ±(2^53-1), larger ones quoted as JSON strings, and floating-point numbers (1e30) are stored as typed', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1d', ...t.db]);
    const task = await runJson<any>(['task', 'add', 'mail', '9007199254740991', '"9007199254740993"', 'k="12345678901234567890"', 'm={"n":-9007199254740991,"f":1.5e300,"g":1e30}', '--json', ...t.db]);
    expect(task.arguments).toEqual({ args: [9007199254740991, '9007199254740993'], kwargs: { k: '12345678901234567890', m: { n: -9007199254740991, f: 1.5e300, g: 1e30 } } });
    const refused = await runCli(['task', 'add', 'mail', '9007199254740993', 'k=12345678901234567890', '--json', ...t.db]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(JSON.parse(await runOk(['task', 'list', '--json', ...t.db]))).toHaveLength(1);
  });
});

describe('--version after a command', () => {
  test('is the value of the option before it (a pause reason, a key), and alone after a command it is an unknown option (exit 2), not the version', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1d', ...t.db]);
    await runOk(['task', 'add', 'mail', 'x', '--key', '-V', ...t.db]);
    const paused = await runCli(['task', 'pause', '1', '--reason', '--version', '--json', ...t.db]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ id: 1, key: '-V', paused: { reason: '--version' } });
    const listed = await runCli(['task', 'list', '--version', ...t.db]);
    expect(listed.code).toBe(2);
    expect(errorLines(listed.stderr)).toEqual(["error: unknown option '--version'"]);
    expect((await runCli(['--version'])).stdout).toBe('0.1.0\n');
  });
});

describe('unreadable or unusable databases: exit 1 (or 2 for a bad URL), one line, nothing touched', () => {
  test('a file of garbage text: exit 1, the file is unchanged, no journal files are left', async () => {
    const dir = tempDir();
    const path = join(dir, 'garbage.db');
    const garbage = 'this is not a database\n'.repeat(200);
    writeFileSync(path, garbage);
    const results = await Promise.all([
      runCli(['task', 'list', '--db', `sqlite:${path}`]),
      runCli(['task-type', 'add', 'load-git', '--default-interval', '1d'], { env: { ORRERY_DB: `sqlite:${path}` } }),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(errorLines(r.stderr)).toEqual([`orrery: cannot open database ${path}: the file is not a valid SQLite database (SQLITE_NOTADB)`]);
    }
    expect(readFileSync(path, 'utf8')).toBe(garbage);
    expect(readdirSync(dir)).toEqual(['garbage.db']);
  });

  test('a path in a directory that does not exist: exit 1 naming the path, nothing created, for a write or a read', async () => {
    const dir = tempDir();
    const path = join(dir, 'missing', 'sub', 'x.db');
    const r = await runCli(['task-type', 'add', 'a', '--db', `sqlite:${path}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)).toEqual([`orrery: cannot open database ${path}: directory ${join(dir, 'missing', 'sub')} does not exist`]);
    // A read too (cli.md: its directory must exist; exit 1, missing directory): it was answered as an empty database, exit 0.
    for (const args of [['task', 'list'], ['task-type', 'list', '--json'], ['task', 'show', '1']]) {
      const read = await runCli([...args, '--db', `sqlite:${path}`]);
      expect(read.code, read.stderr).toBe(1);
      expect(read.stdout).toBe('');
      expect(errorLines(read.stderr)).toEqual([`orrery: cannot open database ${path}: directory ${join(dir, 'missing', 'sub')} does not exist`]);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a command that does not add anything never creates a missing database: it answers as an empty one and says so', async () => {
    const dir = tempDir();
    const path = join(dir, 'typo.db');
    const list = await runCli(['task', 'list', '--json', '--db', `sqlite:${path}`]);
    expect(list).toEqual({ code: 0, stdout: '[]\n', stderr: `orrery: no database at ${path} (--db): answered as an empty database, nothing created\n` });
    const show = await runCli(['task', 'show', '1', '--db', path], { env: { ORRERY_DB: 'sqlite:/elsewhere.db' } });
    expect(show.code).toBe(2);
    expect(errorLines(show.stderr)).toEqual([`orrery: no database at ${path} (--db): answered as an empty database, nothing created`, 'orrery: ID: task 1 not found']);
    const fromEnv = await runCli(['worker', 'list'], { env: { ORRERY_DB: `sqlite:${path}` } });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stderr).toContain(`no database at ${path} ($ORRERY_DB)`);
    // A URL no store takes, from the environment: named as $ORRERY_DB (it said db:, an option never given).
    const mysql = await runCli(['task', 'list'], { env: { ORRERY_DB: 'mysql://x' } });
    expect(mysql.code).toBe(2);
    expect(errorLines(mysql.stderr)).toEqual(['orrery: $ORRERY_DB: unsupported database URL "mysql://x" (use sqlite:PATH, sqlite::memory: or postgres://...)']);
    // A path of blanks is no file: refused as the writing commands refuse it, not answered as an empty database.
    for (const db of [' ', 'sqlite: ']) {
      const blank = await runCli(['task', 'list', '--db', db]);
      expect(blank.code, blank.stderr).toBe(2);
      expect(errorLines(blank.stderr)).toEqual([db === " " ? "orrery: db: must be a database URL (sqlite:PATH or postgres://...)" : "orrery: db: \"sqlite:\" needs a path, e.g. sqlite:./orrery.db or sqlite::memory:"]);
    }
    // A path holding control characters is shown escaped, on one line (an escape sequence reached the terminal).
    const odd = await runCli(['task', 'list', '--db', `sqlite:${join(dir, 'q\u001b]0;x\u0007\nfoo.db')}`]);
    expect(odd.code).toBe(0);
    expect(errorLines(odd.stderr)).toEqual([`orrery: no database at ${join(dir, 'q\\u001b]0;x\\u0007\\nfoo.db')} (--db): answered as an empty database, nothing created`]);
    expect(readdirSync(dir)).toEqual([]);
    // A command that adds something creates it, and reads then find it (a visit result is such a write).
    const visits = join(dir, 'visits.db');
    expect(await runCli(['origin', 'visited', 'https://x.org', 'git', '--status', 'successful', '--db', `sqlite:${visits}`])).toMatchObject({ code: 0, stderr: '' });
    expect(readdirSync(dir)).toContain('visits.db');
    expect((await runCli(['task-type', 'add', 'a', '--db', `sqlite:${path}`])).code).toBe(0);
    expect(await runCli(['task-type', 'list', '--json', '--db', `sqlite:${path}`])).toMatchObject({ code: 0, stderr: '' });
  });

  test('a path that is a directory: exit 1', async () => {
    const dir = tempDir();
    const r = await runCli(['task', 'list', '--db', `sqlite:${dir}`]);
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toEqual([`orrery: cannot open database ${dir}: it is a directory`]);
  });

  test('a database newer than the code is refused (exit 1) and left as it was', async () => {
    const db = tempDb();
    await runOk(['task-type', 'add', 'load-git', '--default-interval', '1d', ...db.db]);
    const raw = new Database(db.path);
    raw.prepare("INSERT INTO orrery_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)").run();
    raw.close();
    const before = dumpDb(db.path);
    const r = await runCli(['task', 'add', 'load-git', 'https://x', ...db.db]);
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('newer');
    expect(dumpDb(db.path)).toEqual(before);
  });

  test.each([
    ['mysql://x', 'db: unsupported database URL "mysql://x"'],
    ['sqlite:', 'db: "sqlite:" needs a path'],
    // Malformed, not unreachable: exit 2 at once (it was exit 1, "cannot connect ... Invalid URL"), the password hidden.
    ['postgres://u:secret@localhost:99999/db', 'db: "postgres://u:***@localhost:99999/db" is not a valid PostgreSQL URL'],
    ['postgresql://u@[::1/db', 'db: "postgresql://u@[::1/db" is not a valid PostgreSQL URL'],
    // A password with an unescaped / makes the URL invalid: its message still hides it (audit, 2026-12-05).
    ['postgres://u:sec/ret@h:99999/db', 'db: "postgres://u:***@h:99999/db" is not a valid PostgreSQL URL'],
    ['mysql://u:sec/ret@h/db', 'db: unsupported database URL "mysql://u:***@h/db"'],
    // Mistyped (a space from an env file, one slash, no colon): the password hidden too (security audit, 2026-12-06).
    [' postgres://u:TypoPw4@127.0.0.1:5/orrery', 'db: unsupported database URL " postgres://u:***@127.0.0.1:5/orrery"'],
    ['postgres:/u:TypoPw1@127.0.0.1:5/orrery', 'db: unsupported database URL "postgres:/u:***@127.0.0.1:5/orrery"'],
    ['postgres//u:TypoPw3@127.0.0.1:5/orrery', 'db: unsupported database URL "postgres//u:***@127.0.0.1:5/orrery"'],
  ])('--db %s: exit 2', async (url, message) => {
    const r = await runCli(['task-type', 'list', '--db', url]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  test('--db with credentials and no host, libpq\'s unix-socket form (?host=/dir), goes to the driver (it was refused as not a valid URL, exit 2)', async () => {
    const r = await runCli(['task-type', 'list', '--db', 'postgres://u:secret@/db?host=/nonexistent-orrery-socket-dir']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('orrery: cannot connect to postgres://u:***@/db?host=/nonexistent-orrery-socket-dir: connect ENOENT /nonexistent-orrery-socket-dir/.s.PGSQL.5432');
  });

  // The test server asks for a password (the embedded one: scram-sha-256). Without one the driver gave the
  // login up itself and left its socket open: the command printed its error, then hung until the server's
  // authentication_timeout (a minute), and daemons took it for a server away and retried forever (CLI audit).
  test.each([['task-type', 'list'], ['runner']])('--db postgres://user@host/db with no password and PGPASSWORD unset: %s exits 1 at once, saying where the password goes', async (...cmd) => {
    const url = new URL((await createTestDatabase('cli_no_password')).url);
    url.password = '';
    const r = await runCli([...cmd, '--db', url.toString()], { spawn: true, env: { PGPASSWORD: undefined } });
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(`orrery: cannot connect to ${url.toString()}: `);
    if (/SASL/.test(r.stderr)) expect(r.stderr).toContain('(the server asks for a password: give it in the URL or in PGPASSWORD)');
  });
});

describe('values neither store can hold: the same exit 2 naming the field on SQLite and PostgreSQL, nothing written', () => {
  // [what, argv, text the message must contain]; JSON escapes put NUL and lone surrogates into arguments.
  const cases: [string, string[], string[]][] = [
    ['--num-retries of 1e12', ['task-type', 'add', 'p7', '--num-retries', '1000000000000'], ['--num-retries', 'at most 2147483647']],
    ['--max-abandons of 2^31', ['task-type', 'add', 'p8', '--max-abandons', '2147483648'], ['--max-abandons', 'at most 2147483647']],
    ['--max-running of 1e12', ['task-type', 'add', 'p9', '--max-running', '1000000000000'], ['--max-running', 'at most 2147483647']],
    ['--max-queue-length of 1e12', ['task-type', 'add', 'p10', '--max-queue-length', '1000000000000'], ['--max-queue-length', 'at most 2147483647']],
    ['--rate-limit count of 1e12', ['task-type', 'add', 'p11', '--rate-limit', '1000000000000/1m'], ['--rate-limit', 'at most 2147483647']],
    ['--retries of 2^53-1', ['task', 'add', 'load-git', 'https://x', '--retries', '9007199254740991'], ['--retries', 'at most 2147483647']],
    ['a NUL in an argument', ['task', 'add', 'load-git', '"a\\u0000b"'], ['arguments.args[0]', 'NUL']],
    ['a NUL in a kwargs key', ['task', 'add', 'load-git', 'cfg={"k\\u0000":1}'], ['arguments.kwargs.cfg["k\\u0000"]', 'NUL']],
    ['a lone surrogate in an argument', ['task', 'add', 'load-git', '"\\ud800"'], ['arguments.args[0]', 'surrogate']],
    ['a NUL in run metadata', ['run', 'start', '00000000-0000-4000-8000-000000000000', '--metadata', '{"a":"\\u0000"}'], ['metadata.a', 'NUL']],
  ];

  for (const store of ['SQLite', 'PostgreSQL'] as const) {
    describe(store, () => {
      let db: string[] = [];
      let before: string[] = [];
      const listings = () => Promise.all([runOk(['task', 'list', '--json', ...db]), runOk(['task-type', 'list', '--json', ...db])]);
      beforeAll(async () => {
        const url = store === 'SQLite' ? tempDb().url : (await createTestDatabase('cli_bad_text')).url;
        db = ['--db', url];
        await runOk(['task-type', 'add', 'load-git', '--default-interval', '1d', ...db]);
        await runOk(['task', 'add', 'load-git', 'https://example.org/a.git', ...db]);
        before = await listings();
      });

      test.concurrent.each(cases)('%s', async (_what, argv, mentions) => {
        const r = await runCli([...argv, ...db]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stdout).toBe('');
        const lines = errorLines(r.stderr);
        expect(lines, r.stderr).toHaveLength(1);
        for (const m of mentions) expect(lines[0]).toContain(m);
      });

      // Every command above was refused: the tasks and types are as they were (read once, not per case).
      test('none of them wrote anything', async () => {
        expect(await listings()).toEqual(before);
      });
    });
  }
});
