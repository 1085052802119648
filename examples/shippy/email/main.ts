/** Entry file of the email service (`berth run`, or `node examples/shippy/email/main.ts`). */
import { runMain } from '../../../src/service/run-main.ts';
import { createEmailService } from './service.ts';

await runMain(createEmailService);
