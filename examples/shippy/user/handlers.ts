/**
 * UserService. Passwords are hashed with argon2id and never returned or logged;
 * tokens are never logged either. Auth answers the same way whether the email is
 * unknown or the password wrong, and takes as long (a hash is verified either way),
 * so it does not reveal which emails have accounts.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import { hash, verify } from '@node-rs/argon2';
import { Code, fail } from 'berth';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';
import type { UserRepository } from './repository.ts';
import type { Tokens } from './tokens.ts';

export interface UserHandlerDeps {
  readonly repository: UserRepository;
  readonly tokens: Tokens;
  /** Called after a transaction enqueued an event, for immediate delivery (OutboxRelay.wake). */
  readonly eventsEnqueued: () => void;
}

const minPasswordLength = 8;
/** Bounds the work an argon2 hash does for one request. */
const maxPasswordLength = 1024;
const maxTextLength = 200;
const emailShape = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function userHandlers(deps: UserHandlerDeps): ServiceImpl<typeof UserService> {
  const { repository, tokens } = deps;
  // What Auth verifies against when the email is unknown.
  const decoy = hash(randomUUID());

  return {
    async create(input) {
      const name = input.name.trim();
      const company = input.company.trim();
      const email = normalizeEmail(input.email);
      if (name === '') fail(Code.InvalidArgument, 'name must not be empty');
      if (name.length > maxTextLength) {
        fail(Code.InvalidArgument, `name must be at most ${maxTextLength} characters`);
      }
      if (company.length > maxTextLength) {
        fail(Code.InvalidArgument, `company must be at most ${maxTextLength} characters`);
      }
      if (email.length > 254 || !emailShape.test(email)) {
        fail(Code.InvalidArgument, 'email must be an address such as name@example.com');
      }
      if (input.password.length < minPasswordLength) {
        fail(Code.InvalidArgument, `password must be at least ${minPasswordLength} characters`);
      }
      if (input.password.length > maxPasswordLength) {
        fail(Code.InvalidArgument, `password must be at most ${maxPasswordLength} characters`);
      }
      const user = { id: randomUUID(), name, company, email };
      if (!(await repository.create(user, await hash(input.password)))) {
        fail(Code.AlreadyExists, `a user with email ${email} already exists`);
      }
      deps.eventsEnqueued();
      return { user, token: await tokens.issue(user.id) };
    },

    async auth(request) {
      const user = await repository.byEmail(normalizeEmail(request.email));
      const matches = await verify(user?.passwordHash ?? (await decoy), request.password);
      if (!user || !matches) fail(Code.Unauthenticated, 'invalid email or password');
      return { token: await tokens.issue(user.id), valid: true, userId: user.id };
    },

    async validateToken(request) {
      const userId = request.token === '' ? undefined : await tokens.verify(request.token);
      if (userId === undefined) fail(Code.Unauthenticated, 'invalid or expired token');
      return { valid: true, userId };
    },

    async get(request) {
      if (request.id === '') fail(Code.InvalidArgument, 'id must not be empty');
      const user = await repository.byId(request.id);
      if (!user) fail(Code.NotFound, `no user with id "${request.id}"`);
      return { user };
    },

    async getAll() {
      return { users: await repository.all() };
    },
  };
}
