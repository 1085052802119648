/** Entry file of the user service (`berth run`, or `node examples/shippy/user/main.ts`). */
import { runMain } from 'berth';
import { createUserService } from './service.ts';

await runMain(createUserService);
