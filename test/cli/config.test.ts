import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../../src/cli/output';
import { parseNodeConfig } from '../../src/cli/config';
import { configReference } from '../../src/cli/config-reference';
import { REPO_ROOT } from '../helpers/run-example';
import { runCli, scratchDir } from './cli-process';

/** The message of the `CliError` that parsing `text` throws. */
function problems(text: string): string {
  try {
    parseNodeConfig(text, 'node.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('CONFIG');
    expect((error as CliError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('node configuration files', () => {
  it('accepts a full configuration and resolves paths against the file', () => {
    const config = parseNodeConfig(
      [
        'name: bob',
        'identity: bob',
        'tcp: { listen: ["127.0.0.1:0"] }',
        'hub: { statePath: state.json }',
        'secureChannelListeners: [{ address: listener, trust: [I' + 'a'.repeat(40) + '] }]',
        'relays: [{ hub: "127.0.0.1:4000", name: bob }]',
        'workers: [{ address: echoer, builtin: echoer }, { address: w, module: ./w.js, access: all }]',
        'metrics: {}',
      ].join('\n'),
      '/etc/sealroute/node.yaml',
    );
    expect(config.relays).toEqual([{ hub: '127.0.0.1:4000', name: 'bob', to: 'listener' }]);
    expect(config.workers[0]!.access).toBe('secure-channel');
    expect(config.workers[1]!.module).toBe('/etc/sealroute/w.js');
    expect(config.hub?.statePath).toBe('/etc/sealroute/state.json');
    expect(config.metrics?.listen).toBe('127.0.0.1:9464');
  });

  it('takes WebSocket listeners, authorities (files read relative to the config file) and an authority', () => {
    const key = 'ab'.repeat(32);
    const config = parseNodeConfig(
      [
        'ws: { listen: ["127.0.0.1:0", "127.0.0.1:0/sealroute"] }',
        `hub: { authorities: [${key}, ./authority.json] }`,
        'authority: { enrollers: [admin], credentialTtlSeconds: 600 }',
        'authorities: [I' + 'a'.repeat(40) + ']',
        'credential: none',
      ].join('\n'),
      '/etc/sealroute/node.yaml',
    );
    expect(config.ws?.listen).toEqual(['127.0.0.1:0', '127.0.0.1:0/sealroute']);
    expect(config.hub?.authorities).toEqual([key, '/etc/sealroute/authority.json']);
    expect(config.authority).toEqual({
      enrollers: ['admin'],
      credentialTtlSeconds: 600,
      statePath: undefined,
    });
    expect(config.credential).toBe('none');
    const byCredential = parseNodeConfig(
      [
        'secureChannelListeners:',
        '  - { address: listener, trust: { credential: { authority: ./a.json, attributes: { role: friend } } } }',
        'workers: [{ address: echoer, builtin: echoer, access: { attributes: { role: friend } } }]',
      ].join('\n'),
      '/etc/sealroute/node.yaml',
    );
    expect(byCredential.secureChannelListeners[0]!.trust).toEqual({
      credential: { authority: '/etc/sealroute/a.json', attributes: { role: 'friend' } },
    });
    expect(byCredential.workers[0]!.access).toEqual({ attributes: { role: 'friend' } });
    expect(parseNodeConfig('name: n', 'n.yaml').credential).toBe('enrolled');
    expect(problems('name: n\nws: { listen: [nowhere] }')).toContain(
      'node.yaml:2:16: ws.listen[0]: expected host:port or host:port/path',
    );
    expect(problems('authority: { credentialTtlSeconds: 0 }')).toMatch(
      /node\.yaml:1:36: authority\.credentialTtlSeconds: Number must be greater than or equal to 1/,
    );
  });

  it('names the file, the line, the column and the field of every problem', () => {
    const text = [
      'name: bob', // 1
      'relays:', // 2
      '  - hub: nowhere', // 3
      '    name: bob', // 4
      'workers:', // 5
      '  - address: echoer', // 6
      '    builtin: echoer', // 7
      '    module: ./x.js', // 8
      'secureChannelListeners:', // 9
      '  - address: listener', // 10
      '    trust: [Inot-an-identifier]', // 11
      'colour: blue', // 12
    ].join('\n');
    const message = problems(text);
    expect(message).toContain('node.yaml:3:10: relays[0].hub: expected host:port');
    expect(message).toContain('node.yaml:6:5: workers[0]: give exactly one of builtin and module');
    expect(message).toContain('node.yaml:11:13: secureChannelListeners[0].trust');
    expect(message).toContain('node.yaml:12:1: colour: unknown field');
    expect(message.split('; ')).toHaveLength(4);
  });

  it('takes a federated hub (password file relative to the file) and relays failing over among hubs', () => {
    const config = parseNodeConfig(
      [
        'hub:',
        '  federation:',
        '    nats: [nats://127.0.0.1:4222, tls://n2.example.net:4222]',
        '    user: hub-a',
        '    passwordFile: secrets/nats.password',
        '    replicas: 3',
        'relays:',
        '  - hubs: [hubs.example.net:4000, 127.0.0.1:4001]',
        '    name: bob',
      ].join('\n'),
      '/etc/sealroute/node.yaml',
    );
    expect(config.hub?.federation).toEqual({
      nats: ['nats://127.0.0.1:4222', 'tls://n2.example.net:4222'],
      user: 'hub-a',
      passwordFile: '/etc/sealroute/secrets/nats.password',
      replicas: 3,
    });
    expect(config.relays[0]).toMatchObject({
      hubs: ['hubs.example.net:4000', '127.0.0.1:4001'],
      name: 'bob',
    });
  });

  it('refuses a relay with both hub and hubs, or several hubs without a name, and NATS URLs with secrets', () => {
    expect(
      problems('relays:\n  - hub: 127.0.0.1:1\n    hubs: [127.0.0.1:2, 127.0.0.1:3]\n    name: b'),
    ).toContain('relays[0]: give either hub or hubs');
    expect(problems('relays:\n  - hubs: [127.0.0.1:2, 127.0.0.1:3]')).toContain(
      'relays[0]: a relay with several hubs needs a name',
    );
    expect(problems('relays:\n  - to: listener')).toContain('relays[0]: give either hub or hubs');
    expect(problems('hub:\n  federation:\n    nats: [nats://user:secret@127.0.0.1:4222]')).toContain(
      'hub.federation.nats[0]: expected nats://host:port or tls://host:port',
    );
    expect(problems('hub:\n  federation:\n    nats: []')).toContain('hub.federation.nats');
  });

  it('reports YAML syntax errors with their line', () => {
    expect(problems('name: bob\nrelays: [\n  - x\n')).toMatch(
      /^invalid YAML in node\.yaml: node\.yaml:\d+:\d+: /,
    );
    expect(problems('name: a\nname: b\n')).toMatch(/node\.yaml:2:1: .*[Mm]ap keys must be unique/);
  });

  it('makes node start exit 2 with the line of the error', async () => {
    const scratch = scratchDir();
    try {
      const file = join(scratch.dir, 'bad.yaml');
      writeFileSync(file, 'identity: bob\ntcp:\n  listen:\n    - "127.0.0.1:0"\n    - 4000\n');
      const result = await runCli(['node', 'start', '--config', file], { SEALROUTE_CONFIG_DIR: scratch.dir });
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(`${file}:5:7: tcp.listen[1]: Expected string, received number`);
    } finally {
      scratch.cleanup();
    }
  });

  it('keeps docs/operations.md equal to the reference generated from the schema', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    const match = doc.match(/<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/);
    expect(match).not.toBeNull();
    // Regenerate with: npx ts-node tools/config-reference.ts
    expect(match![1]).toBe(configReference());
  });
});
