/**
 * Every ConsignmentService call carries `Authorization: Bearer <token>`; the user
 * service says whether the token is valid and whose it is. Nothing here reads the
 * token's contents or holds the signing key.
 */
import type { HandlerContext } from '@connectrpc/connect';
import type { TypedClient } from 'berth';
import { Code, ConnectError, fail } from 'berth';
import type { UserService } from '../gen/shippy/user/v1/user_pb.js';

const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The id of the user the request's token belongs to; Unauthenticated when there is none or it is invalid. */
export async function authenticate(
  users: TypedClient<typeof UserService>,
  context: HandlerContext,
): Promise<string> {
  const match = bearer.exec(context.requestHeader.get('authorization') ?? '');
  if (!match) fail(Code.Unauthenticated, 'missing Authorization: Bearer <token> header');
  let userId: string;
  try {
    ({ userId } = await users.validateToken({ token: match[1] }));
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
