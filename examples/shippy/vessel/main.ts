/** Entry file of the vessel service (`berth run`, or `node examples/shippy/vessel/main.ts`). */
import { runMain } from 'berth';
import { createVesselService } from './service.ts';

await runMain(createVesselService);
