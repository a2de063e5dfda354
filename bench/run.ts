import { benchApi, wsClients } from './api.js';
import { benchCluster } from './cluster.js';
import { benchDedupe } from './dedupe.js';
import { benchIngest, ingestPhase } from './ingest.js';
import { benchOrganize } from './organize.js';
import { benchQuality } from './quality.js';
import { benchScale, embeddedWalkPhase } from './scale.js';
import { benchStartup } from './startup.js';

/** `npm run bench -- NAME [options]`: one benchmark by name. */
const benches: Record<string, (argv: string[]) => Promise<void>> = {
  ingest: benchIngest,
  'ingest-phase': (argv) => ingestPhase(argv[0]!, argv[1]!),
  api: benchApi,
  cluster: benchCluster,
  dedupe: benchDedupe,
  organize: benchOrganize,
  quality: benchQuality,
  scale: benchScale,
  'scale-phase': (argv) => embeddedWalkPhase(argv[0]!),
  startup: benchStartup,
  'ws-clients': wsClients,
};

const [name, ...rest] = process.argv.slice(2);
const bench = name ? benches[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).filter((b) => !b.includes('phase') && b !== 'ws-clients').join('|')}> [options]\n`);
  process.exit(2);
}
await bench(rest);
