/**
 * Targets (c), (e), (f), (g), (h) and (i): the vessel service on berth, answering FindAvailable from
 * memory. Started like any berth service (runMain: BERTH_REGISTRY_DIR, PORT...).
 */
import { VesselService } from '../../examples/shippy/gen/shippy/vessel/v1/vessel_pb.js';
import { Code, ConnectError } from '../../src/errors/berth-error.ts';
import { runMain } from '../../src/service/run-main.ts';
import { Service } from '../../src/service/service.ts';
import { dropSpansWhenAsked } from './dropped-spans.ts';
import { findAvailable } from './vessels.ts';

await dropSpansWhenAsked('vessel');

await runMain((runtime) =>
  new Service({
    name: 'vessel',
    system: 'shippy',
    registry: runtime.registry,
    logger: runtime.logger,
    host: runtime.host,
    port: runtime.port,
  }).handle(VesselService, {
    findAvailable(spec) {
      const vessel = findAvailable(spec.capacity, spec.maxWeight);
      if (!vessel) throw new ConnectError('no vessel available', Code.NotFound);
      return { vessel };
    },
  }),
);
