/**
 * The trace context NatsBroker copies from an event's envelope (event-tracing.ts)
 * into its NATS message headers, for NATS tools and other OpenTelemetry-aware
 * consumers of the stream; berth's own consumers read the envelope.
 */
import { headers, type MsgHdrs } from '@nats-io/transport-node';

const traceHeaderNames = ['traceparent', 'tracestate', 'baggage'];

/** The event's W3C trace context (and baggage) headers as NATS message headers; undefined when it has none. */
export function traceHeaders(eventHeaders: Readonly<Record<string, string>>): MsgHdrs | undefined {
  let result: MsgHdrs | undefined;
  for (const name of traceHeaderNames) {
    const value = eventHeaders[name];
    if (value === undefined) continue;
    result ??= headers();
    result.set(name, value);
  }
  return result;
}
