/**
 * UserService. Passwords are hashed with argon2id and never returned or logged;
 * tokens are never logged either. Auth answers the same way whether the email is
 * unknown or the password wrong, and takes as long (a hash is verified either way),
 * so it does not reveal which emails have accounts. Get and GetAll answer only
 * about the caller: another user's id is NotFound whether or not it exists.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import { hash, verify } from '@node-rs/argon2';
import { Code, fail } from 'berth';
import { requiredText } from '../configs/limits.ts';
import { pageOf, pageStart } from '../configs/pagination.ts';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';
import { parseEmail } from './email-address.ts';
import type { UserRepository } from './repository.ts';
import type { Sessions } from './sessions.ts';
import { passwordWithinLimits, validateSignUp } from './validation.ts';

export interface UserHandlerDeps {
  readonly repository: UserRepository;
  readonly sessions: Sessions;
  /** Called after a transaction enqueued an event, for immediate delivery (OutboxRelay.wake). */
  readonly eventsEnqueued: () => void;
}

const invalidCredentials = 'invalid email or password';
/** Ids are UUIDs; the bound keeps an error message from echoing a megabyte. */
const maxIdLength = 100;

export function userHandlers(deps: UserHandlerDeps): ServiceImpl<typeof UserService> {
  const { repository, sessions } = deps;
  // What Auth verifies against when the email is unknown.
  const decoy = hash(randomUUID());

  return {
    async create(input) {
      const user = { id: randomUUID(), ...validateSignUp(input) };
      if (!(await repository.create(user, await hash(input.password)))) {
        fail(Code.AlreadyExists, 'an account with this email already exists');
      }
      deps.eventsEnqueued();
      return { user, token: await sessions.issue(user.id) };
    },

    async auth(request) {
      const email = parseEmail(request.email);
      // No account can match input Create would refuse: answer without hashing it.
      if ('problem' in email || !passwordWithinLimits(request.password)) {
        fail(Code.Unauthenticated, invalidCredentials);
      }
      const user = await repository.byEmail(email.address);
      const matches = await verify(user?.passwordHash ?? (await decoy), request.password);
      if (!user || !matches) fail(Code.Unauthenticated, invalidCredentials);
      return { token: await sessions.issue(user.id), valid: true, userId: user.id };
    },

    async validateToken(request) {
      const claims = await sessions.check(request.token);
      if (!claims) fail(Code.Unauthenticated, 'invalid or expired token');
      return { valid: true, userId: claims.userId };
    },

    async logout(request) {
      await sessions.revoke(request.token);
      return {};
    },

    async get(request, context) {
      const callerId = await sessions.caller(context);
      const id = requiredText('id', request.id, maxIdLength);
      const user = id === callerId ? await repository.byId(callerId) : undefined;
      if (!user) fail(Code.NotFound, `no user with id "${id}"`);
      return { user };
    },

    async getAll(request, context) {
      const callerId = await sessions.caller(context);
      const start = pageStart('users', request);
      const page = pageOf('users', await repository.visibleTo(callerId, start), start.size);
      return { users: page.rows.map(({ seq: _, ...user }) => user), nextPageToken: page.nextPageToken };
    },
  };
}
