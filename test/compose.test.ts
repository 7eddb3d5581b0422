import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestDatabase } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { repositoryRoot, spawnEntryPoint } from './support/entry-point.js';

const dispose = disposeAfterEach();

interface ComposeService {
  build?: string | { context?: string };
  environment?: Record<string, string | number | boolean> | string[];
}

/** The api service's environment as compose hands it to the container (map or list form). */
function serviceEnvironment(service: ComposeService): Record<string, string> {
  const { environment = {} } = service;
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const at = entry.indexOf('=');
        return [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, String(value)]),
  );
}

/** The Dockerfile's final stage: the instructions after its last FROM. */
async function finalStage(): Promise<string[]> {
  const text = await readFile(path.join(repositoryRoot, 'Dockerfile'), 'utf8');
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const last = instructions.findLastIndex((line) => /^FROM\s/i.test(line));
  return instructions.slice(last);
}

/**
 * The image's /app as the final stage lays it out: its COPY instructions
 * replayed from the checkout (dist/ is what the build stage makes, as the test
 * setup built it), node_modules linked.
 */
async function imageLayout(stage: string[]): Promise<string> {
  const app = await mkdtemp(path.join(os.tmpdir(), 'consultator-image-'));
  dispose.add(() => rm(app, { recursive: true, force: true }));
  for (const line of stage.filter((instruction) => /^COPY\s/i.test(instruction))) {
    const words = line.split(/\s+/).slice(1);
    const fromStage = words[0]?.startsWith('--from=');
    const [target, ...sources] = words.filter((word) => !word.startsWith('--')).reverse();
    if (target === undefined) continue;
    for (const source of sources.reverse()) {
      const from = fromStage ? source.replace(/^\/app\//, '') : source;
      if (from === 'node_modules') {
        await symlink(path.join(repositoryRoot, 'node_modules'), path.join(app, 'node_modules'));
        continue;
      }
      const destination = target.endsWith('/')
        ? path.join(app, target, path.basename(from))
        : path.join(app, target);
      await mkdir(path.dirname(destination), { recursive: true });
      await cp(path.join(repositoryRoot, from), destination, { recursive: true });
    }
  }
  return app;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('docker-compose.yml', () => {
  it('serves the README query anonymously and a write with a token minted as documented', async () => {
    const compose = parse(await readFile(path.join(repositoryRoot, 'docker-compose.yml'), 'utf8'));
    const api = compose.services.api as ComposeService;
    expect(api.build === '.' || (typeof api.build === 'object' && api.build.context === '.')).toBe(
      true,
    );
    const stage = await finalStage();
    expect(stage).toContainEqual(expect.stringMatching(/^USER\s+(?!root\b)\S+/));
    expect(stage).toContainEqual(expect.stringMatching(/^HEALTHCHECK\s.*\/ready/));
    const cmd = stage.find((line) => /^CMD\s/.test(line)) ?? '';
    const command = JSON.parse(cmd.replace(/^CMD\s+/, '')) as string[];
    expect(command[0]).toBe('node');

    const database = await createTestDatabase({ empty: true });
    dispose.add(() => database.drop());
    const composed = serviceEnvironment(api);
    // Exactly the service's environment, except: the database is the test's, and it listens
    // on a free loopback port (tests only talk over loopback).
    const env = {
      PATH: process.env.PATH,
      ...composed,
      DATABASE_URL: database.url,
      HOST: '127.0.0.1',
      PORT: '0',
    };
    const app = await imageLayout(stage);
    const server = await spawnEntryPoint({
      cwd: app,
      disposer: dispose,
      env,
      command: command.slice(1),
      readyTimeoutMs: 120_000,
    });

    const readme = await readFile(path.join(repositoryRoot, 'README.md'), 'utf8');
    const firstQuery = /```graphql\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(firstQuery).toBeDefined();
    const graphql = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }).then((response) => response.json());
    const page = await graphql({ query: firstQuery });
    expect(page.errors).toBeUndefined();
    expect(page.data.consultants.totalCount).toBe(1000);
    const first = page.data.consultants.edges[0].node;

    // `docker compose exec api npm run token -- --role admin`: npm in /app, with the container's environment.
    const minted = await run('npm', ['run', '--silent', 'token', '--', '--role', 'admin'], {
      cwd: app,
      env: { ...env },
    });
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);

    const mutation = {
      query: `mutation Rate($id: ID!) {
        updateConsultant(input: { id: $id, dailyRate: 777 }) {
          __typename
          ... on UpdateConsultantPayload { consultant { id dailyRate } }
        }
      }`,
      variables: { id: first.id },
    };
    const anonymous = await graphql(mutation);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const written = await graphql(mutation, { authorization: `Bearer ${token}` });
    expect(written.errors).toBeUndefined();
    expect(written.data.updateConsultant).toEqual({
      __typename: 'UpdateConsultantPayload',
      consultant: { id: first.id, dailyRate: 777 },
    });
    // GraphiQL, which the demo turns on, is served by the compiled server with its own files.
    const html = await (
      await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } })
    ).text();
    const script = /src="([^"]+\/graphiql\.js)"/.exec(html)?.[1];
    expect(script, html.slice(0, 500)).toBeDefined();
    expect((await fetch(new URL(script as string, server.graphqlUrl))).status).toBe(200);
    await waitFor(async () => {
      const health = await fetch(new URL('/ready', server.graphqlUrl));
      return health.ok;
    }, 30_000);
  }, 240_000);
});
