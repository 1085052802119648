/** Entry file of the email service (`berth run`, or `node examples/shippy/email/main.ts`). */
import { runMain } from 'berth';
import { createEmailService } from './service.ts';

await runMain(createEmailService);
