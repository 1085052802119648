/**
 * Multi-stage Dockerfiles for `berth build`: dependencies installed without dev
 * packages in one stage, then only the runtime, the system's shared code and
 * the one service copied onto the base image (berth.yaml `build.base`, by default
 * a slim Node 24), run as a non-root user. Both stages start from the same base, so
 * the installed modules match the Node that runs them. Node 24 runs the TypeScript
 * sources directly, so there is no compile stage.
 */
import type { SystemFile } from '../config/system-file.ts';
import { berthNodeFlags } from '../service/node-flags.ts';
import { contextPath, imageInputs } from './release.ts';

export function dockerfileFor(system: SystemFile, name: string): string {
  const { base } = system.build;
  const copies = imageInputs(system, name)
    .filter((path) => !path.endsWith('package.json') && !path.endsWith('package-lock.json'))
    .map((path) => contextPath(path))
    .map((path) => `COPY --chown=10001:10001 ${path} ./${path}`);
  const entry = name === 'gateway' ? 'src/gateway/main.ts' : contextPath(system.services[name]!.entry);
  const command = ['node', ...berthNodeFlags, entry];
  const staticDir =
    name === 'gateway' && system.gateway.static ? contextPath(system.gateway.static) : undefined;
  return [
    '# syntax=docker/dockerfile:1',
    `# ${system.system}-${name}: written by \`berth build\`; build with the berth package root as context.`,
    `FROM ${base} AS dependencies`,
    'WORKDIR /app',
    'COPY package.json package-lock.json ./',
    'RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force',
    '',
    `FROM ${base}`,
    'ENV NODE_ENV=production',
    // Compiled (and type-stripped) modules cached on the writable /tmp: restarts skip the TypeScript stripper and its ~18 MB.
    'ENV NODE_COMPILE_CACHE=/tmp/node-compile-cache',
    'WORKDIR /app',
    'COPY --from=dependencies /app/node_modules ./node_modules',
    'COPY package.json ./',
    ...copies,
    ...(staticDir ? [`RUN ln -s /app/${staticDir} /app/static`] : []),
    'USER 10001:10001',
    'EXPOSE 8080',
    `CMD ${JSON.stringify(command)}`,
    '',
  ].join('\n');
}
