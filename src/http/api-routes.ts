import { archiveRoutes } from './archive-routes.js';
import { bulkRoutes } from './bulk-routes.js';
import { dagRoutes } from './dag-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { importRoutes } from './import-routes.js';
import { routes, type Route } from './routes.js';
import { taskTypeRoutes } from './task-type-routes.js';
import { pauseRoutes } from './pause-routes.js';
import { visitRoutes } from './visit-routes.js';
import { scheduleRoutes } from './schedule-routes.js';
import { workerRoutes } from './worker-routes.js';

/** Every route of the API (mounted by the app and described by the OpenAPI document): each feature's table. */
export const apiRoutes: readonly Route[] = [...routes, ...bulkRoutes, ...importRoutes, ...taskTypeRoutes, ...pauseRoutes, ...dagRoutes, ...visitRoutes, ...dashboardRoutes, ...archiveRoutes, ...scheduleRoutes, ...workerRoutes];
