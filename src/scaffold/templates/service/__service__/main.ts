/** Entry file of the __service__ service: `berth run` starts it (or `node __service__/main.ts`). */
import { runMain } from 'berth';
import { create__Service__Service } from './service.ts';

await runMain(create__Service__Service);
