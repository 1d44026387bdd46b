/**
 * Runs at the start of every integration test file (vitest `setupFiles`), in that file's scope even
 * where the files of a test process share their modules (`isolate: false`): the hooks every file needs.
 */
import { afterAll } from 'vitest';
import { dropCreatedDatabases } from './postgres.js';

// The PostgreSQL databases the file made and left (and their sessions) go with it, not at the end of the run.
afterAll(dropCreatedDatabases);
