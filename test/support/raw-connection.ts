/** A raw TCP connection for tests of what a server does to misbehaving clients. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  readonly socket: Socket;
  /** What the server sent so far, as latin1 text (empty when made with `read: false`). */
  readonly received: () => string;
  /** Settles when the socket closes, whoever closed it. */
  readonly closed: Promise<unknown>;
}

/** `read: false` never reads, so the server's writes back up as a client's that stalls would. */
export async function rawConnection(port: number, options: { read?: boolean } = {}): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  let received = '';
  if (options.read !== false) {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
  }
  socket.on('error', () => {});
  // Not events.once: it rejects when 'error' (EPIPE, ECONNRESET) comes before 'close'.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await once(socket, 'connect');
  return { socket, received: () => received, closed };
}
