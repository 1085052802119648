/**
 * What is running: the gateway's readiness and, per service, the instances the
 * gateway knows from the registry (an instance is listed while it is registered,
 * and a service stopping gracefully deregisters first). Refreshed every few seconds.
 */
import { useCallback, useEffect } from 'react';
import { getJson, type ReadyAnswer, type ServicesAnswer } from '../api.ts';
import { ErrorMessage } from '../components.tsx';
import { useLoad } from '../hooks.ts';

const refreshMs = 5_000;

async function loadSystem(): Promise<{ ready: ReadyAnswer; services: ServicesAnswer; at: Date }> {
  const [ready, services] = await Promise.all([
    getJson<ReadyAnswer>('/readyz'),
    getJson<ServicesAnswer>('/_berth/services'),
  ]);
  return { ready, services, at: new Date() };
}

export function SystemPage() {
  const system = useLoad(useCallback(loadSystem, []));
  const { reload } = system;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [reload]);

  const data = system.data;
  return (
    <>
      <h1>System</h1>
      <div className="toolbar">
        <p className="meta">
          {data ? `Updated ${data.at.toLocaleTimeString('en-GB')}` : system.loading && 'Loading…'}
        </p>
        <button type="button" className="secondary" onClick={() => void reload()} disabled={system.loading}>
          Refresh
        </button>
      </div>
      <ErrorMessage>{system.error}</ErrorMessage>
      {data && (
        <div className="grid">
          <section className="card" aria-label="Gateway">
            <div className="head">
              <h2>gateway</h2>
              <span className={data.ready.ready ? 'badge ok' : 'badge bad'}>
                {data.ready.ready ? 'Ready' : 'Not ready'}
              </span>
            </div>
            <p className="meta">
              Serving this page at <span className="mono">{location.host}</span> and routing calls to{' '}
              {data.services.services.length} services.
            </p>
          </section>
          {data.services.services.map((service) => (
            <section key={service.name} className="card" aria-label={service.name}>
              <div className="head">
                <h2>{service.name}</h2>
                <span className={service.instances.length > 0 ? 'badge ok' : 'badge bad'}>
                  {service.instances.length > 0 ? `Up · ${instances(service.instances.length)}` : 'Down'}
                </span>
              </div>
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
      )}
    </>
  );
}

function instances(count: number): string {
  return count === 1 ? '1 instance' : `${count} instances`;
}
