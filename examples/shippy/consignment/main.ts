/** Entry file of the consignment service (`berth run`, or `node examples/shippy/consignment/main.ts`). */
import { runMain } from 'berth';
import { createConsignmentService } from './service.ts';

await runMain(createConsignmentService);
