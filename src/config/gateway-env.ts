/**
 * The environment that carries berth.yaml's `gateway:` settings to the gateway
 * process (read back by src/gateway/main.ts), the same under `berth run` and on
 * Kubernetes.
 */
import type { SystemFile } from './system-file.ts';

export function gatewaySettingsEnv(system: SystemFile): Record<string, string> {
  const { gateway } = system;
  return {
    BERTH_KNOWN_SERVICES: Object.keys(system.services).sort().join(','),
    BERTH_CORS_ORIGINS: gateway.cors.origins.join(','),
    BERTH_BODY_LIMIT: String(gateway.bodyLimit),
    BERTH_GATEWAY_TIMEOUT_MS: String(gateway.timeoutMs),
    // Only the connection limits berth.yaml sets: headersTimeoutMs → BERTH_GATEWAY_HEADERS_TIMEOUT_MS.
    ...Object.fromEntries(
      Object.entries(gateway.connectionLimits ?? {}).map(([key, value]) => [
        `BERTH_GATEWAY_${key.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`,
        String(value),
      ]),
    ),
  };
}
