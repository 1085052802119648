/**
 * Calls that need a signed-in caller carry `Authorization: Bearer <token>`; the user
 * service says whether the token is valid and whose it is. Nothing here reads the
 * token's contents or holds the signing key. Shared by every service that checks
 * callers (consignment, vessel).
 */
import type { HandlerContext } from '@connectrpc/connect';
import type { TypedClient } from 'berth';
import { Code, ConnectError, fail } from 'berth';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';

const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The request's `Authorization: Bearer <token>` token; Unauthenticated when it has none. */
export function bearerToken(context: HandlerContext): string {
  const match = bearer.exec(context.requestHeader.get('authorization') ?? '');
  if (!match) fail(Code.Unauthenticated, 'missing Authorization: Bearer <token> header');
  return match[1]!;
}

/** The id of the user the request's token belongs to; Unauthenticated when there is none or it is invalid. */
export async function authenticate(
  users: TypedClient<typeof UserService>,
  context: HandlerContext,
): Promise<string> {
  const token = bearerToken(context);
  let userId: string;
  try {
    ({ userId } = await users.validateToken({ token }));
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
      fail(Code.Unauthenticated, 'invalid or expired token');
    }
    // The user service unavailable, a deadline…: not the caller's fault, so not 401.
    throw error;
  }
  if (userId === '') fail(Code.Unauthenticated, 'invalid or expired token');
  return userId;
}

/** Call options that pass the caller's token on to another service, which checks it itself. */
export function onBehalfOfCaller(context: HandlerContext): { headers: Record<string, string> } {
  return { headers: { authorization: context.requestHeader.get('authorization') ?? '' } };
}
