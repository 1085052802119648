/** How `berth` answers questions and mistakes about its own usage, before doing anything. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './run-cli.ts';

const registryDir = mkdtempSync(join(tmpdir(), 'berth-usage-'));
after(() => rmSync(registryDir, { recursive: true, force: true }));

test('berth help lists every command; help for a command that does not exist is a mistake', async () => {
  const listed = await runCli(registryDir, ['help']);
  assert.equal(listed.code, 0);
  for (const name of ['call', 'run', 'deploy', 'canary'])
    assert.match(listed.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
  const unknown = await runCli(registryDir, ['help', 'deplyo']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /berth help: no command "deplyo"/);
});

test('<command> --help and -h print that command’s usage and exit 0', async () => {
  for (const flag of ['--help', '-h']) {
    const result = await runCli(registryDir, ['deploy', flag]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: berth deploy/);
  }
});

test('number options must be numbers in range, checked before anything is contacted', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['deploy', '--timeout', '5m'], /--timeout: expected seconds \(1 or more\), got "5m"/],
    [['deploy', '--progress-deadline', 'soon'], /--progress-deadline: expected seconds/],
    [['canary', 'vessel', '--weight', '150'], /--weight: expected a percentage of calls \(1-99\), got "150"/],
    [['canary', 'vessel', '--analysis', '0'], /--analysis: expected seconds \(1 or more\), got "0"/],
    [
      ['canary', 'vessel', '--max-error-rate', '5%'],
      /--max-error-rate: expected a percentage \(0-100\), got "5%"/,
    ],
    [['canary', 'vessel', '--min-requests', 'many'], /--min-requests: expected a number of requests/],
    [['rollout', 'undo', 'vessel', '--to-revision', 'x'], /--to-revision: expected a revision number/],
    [
      ['call', 'greeter', 'Say.Hello', '{}', '--timeout', '0'],
      /--timeout: expected milliseconds \(1 or more\)/,
    ],
    [['run', '--port', '70000'], /--port: expected a port number \(1-65535\), got "70000"/],
    [['logs', '--tail=-3'], /--tail: expected a number of lines \(0 or more\), got "-3"/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(registryDir, args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('Kubernetes commands need the environment said: none is assumed, the choices are named', async () => {
  for (const command of [['manifests'], ['deploy'], ['status'], ['scale', 'vessel=2']]) {
    const result = await runCli(registryDir, [...command, '-f', 'examples/shippy']);
    assert.equal(result.code, 2, `${command[0]}: ${result.stderr}`);
    assert.match(result.stderr, /say which environment: --env <name> \(dev, staging, production\)/);
  }
});
