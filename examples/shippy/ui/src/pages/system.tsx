/**
 * What is running: the gateway's readiness and, per service, the instances the
 * gateway knows from the registry with each one's readiness checks (an instance is
 * listed while it is registered; one stopping gracefully deregisters first).
 * Refreshed every few seconds without touching focus. When the gateway does not
 * answer, nothing here is known any more: every card says so, with the time of
 * the last answer, rather than showing that answer as if it were current.
 */
import { useCallback, useEffect } from 'react';
import { getJson, type Instance, type ReadyAnswer, type ServicesAnswer } from '../api.ts';
import { ErrorMessage, PageHeading } from '../components.tsx';
import { count } from '../format.ts';
import { useLoad } from '../hooks.ts';

const refreshMs = 5_000;
/** Longer than the gateway's own probe of each instance (1 s), shorter than the refresh. */
const answerTimeoutMs = 4_000;

async function loadSystem(): Promise<{ ready: ReadyAnswer; services: ServicesAnswer; at: Date }> {
  const [ready, services] = await Promise.all([
    getJson<ReadyAnswer>('/readyz', answerTimeoutMs),
    getJson<ServicesAnswer>('/_berth/services', answerTimeoutMs),
  ]);
  return { ready, services, at: new Date() };
}

function Badge({
  stale,
  ok,
  okText,
  badText,
}: {
  stale: boolean;
  ok: boolean;
  okText: string;
  badText: string;
}) {
  if (stale) return <span className="badge unknown">Unknown</span>;
  return <span className={ok ? 'badge ok' : 'badge bad'}>{ok ? okText : badText}</span>;
}

function Readiness({ instance, stale }: { readonly instance: Instance; readonly stale: boolean }) {
  const checks = Object.entries(instance.readiness?.checks ?? {});
  return (
    <>
      <div className="meta">
        Readiness: <Badge stale={stale} ok={instance.ready === true} okText="Ready" badText="Not ready" />
        {instance.readiness?.error && <> — no answer from its /readyz ({instance.readiness.error})</>}
      </div>
      {checks.length > 0 && (
        <ul className="checks" aria-label={`Readiness checks of ${instance.id}`}>
          {checks.map(([name, result]) => (
            <li key={name}>
              <span className="mono">{name}</span>: {stale ? 'unknown' : result}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function SystemPage() {
  const system = useLoad(useCallback(loadSystem, []));
  const { reload, loading } = system;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible' && !loading) void reload();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [reload, loading]);

  const data = system.data;
  // The last answer, kept to say what was there, but none of it is current.
  const stale = system.error !== undefined;
  const updated = data?.at.toLocaleTimeString('en-GB');
  return (
    <>
      <PageHeading>System</PageHeading>
      <div className="toolbar">
        <p className="meta">
          {data
            ? stale
              ? `Last answer at ${updated}; nothing is known since`
              : `Updated ${updated}`
            : loading && 'Loading…'}
        </p>
        {/* Never disabled while loading: a disabled button would drop keyboard focus to <body>. */}
        <button type="button" className="secondary" onClick={() => void (loading || reload())}>
          Refresh
        </button>
      </div>
      <ErrorMessage>{system.error}</ErrorMessage>
      <div className="grid">
        <section className="card" aria-label="Gateway">
          <div className="head">
            <h2>gateway</h2>
            <Badge
              stale={stale || !data}
              ok={data?.ready.ready === true}
              okText="Ready"
              badText="Not ready"
            />
          </div>
          <p className="meta">
            {stale || !data
              ? 'It does not answer: the status of every service is unknown.'
              : `Serving this page at ${location.host} and routing calls to ${count(data.services.services.length, 'service')}.`}
          </p>
        </section>
        {data?.services.services.map((service) => (
          <section key={service.name} className={stale ? 'card stale' : 'card'} aria-label={service.name}>
            <div className="head">
              <h2>{service.name}</h2>
              <Badge
                stale={stale}
                ok={service.instances.length > 0}
                okText={`Up · ${count(service.instances.length, 'instance')}`}
                badText="Down"
              />
            </div>
            {stale && <p className="meta">Unknown since {updated}. What follows is the last answer.</p>}
            {service.instances.length === 0 ? (
              <p className="meta">No instance is registered: calls to {service.name} fail with 503.</p>
            ) : (
              <ul className="items" aria-label={`Instances of ${service.name}`}>
                {service.instances.map((instance) => (
                  <li key={instance.id}>
                    <strong className="mono">{instance.id}</strong>
                    <div className="meta">
                      <span className="mono">{instance.address}</span> · version {instance.version}
                    </div>
                    <Readiness instance={instance} stale={stale} />
                    {instance.endpoints && instance.endpoints.length > 0 && (
                      <div className="meta">
                        Methods:{' '}
                        {instance.endpoints
                          .map((endpoint) => endpoint.slice(endpoint.indexOf('.') + 1))
                          .join(', ')}
                      </div>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </section>
        ))}
      </div>
    </>
  );
}
