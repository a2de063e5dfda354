import type { Services } from '../app.js';
import type { LuminaConfig } from '../config/config.js';
import type { WorkerInfo } from '../jobs/executor.js';
import type { HealthProbe } from './health.js';
import type { JobStateCache } from './job-state.js';

/** What the route handlers may use: services and state, no transport, no database. */
export interface ApiDeps {
  services: Services;
  config: LuminaConfig;
  state: JobStateCache;
  health: HealthProbe;
  mode: 'embedded' | 'cluster';
  workers(): Promise<WorkerInfo[]>;
  /** Queue depths by queue and state (cluster mode; empty when embedded). */
  queueDepths(): Promise<Record<string, Record<string, number>>>;
}
