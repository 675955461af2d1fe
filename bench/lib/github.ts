import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { LoadRequest } from './load';
import { type Hub, api } from './hub';

/** A GitHub push event to main of a typical size (about 1.5 KB), as the inbound benchmark sends them. */
export function githubPush(n: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      ref: 'refs/heads/main',
      before: randomBytes(20).toString('hex'),
      after: randomBytes(20).toString('hex'),
      repository: {
        id: 1296269,
        name: 'app',
        full_name: 'acme/app',
        private: true,
        default_branch: 'main',
        html_url: 'https://github.com/acme/app',
      },
      pusher: { name: 'octocat', email: 'octocat@example.com' },
      sender: { login: 'octocat', id: 1, type: 'User' },
      head_commit: {
        id: randomBytes(20).toString('hex'),
        message: `Deploy build ${n}\n\nA commit message long enough to look like a real one, with a body that explains the change in a few words.`,
        timestamp: new Date().toISOString(),
        author: { name: 'Octo Cat', email: 'octocat@example.com', username: 'octocat' },
        added: ['src/feature.ts'],
        removed: [],
        modified: ['src/index.ts', 'README.md', 'package.json'],
      },
      commits: [{ id: randomBytes(20).toString('hex'), message: `Deploy build ${n}`, distinct: true }],
    }),
  );
}

/** Push event `n`, signed with `secret` as GitHub signs it, with a fresh delivery id, to POST to `path`. */
export function signedPush(path: string, secret: string, n: number): LoadRequest {
  const body = githubPush(n);
  return {
    method: 'POST',
    path,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', secret).update(body).digest('hex'),
    },
  };
}

/**
 * Sets up what the benchmarks trigger: `program` (`name`, `command`), a GitHub source with `secret` and no
 * rate limit to speak of, and a rule that runs the program for pushes to main with the repository and the
 * commit as arguments. Returns the source's receiver path.
 */
export async function githubPushRoute(
  hub: Hub,
  program: { name: string; command: string },
  ruleName: string,
  secret: string,
): Promise<string> {
  const { token } = hub;
  const created = await api<{ id: string }>(hub.url, 'POST', '/api/programs', token, program);
  const source = await api<{ id: string; slug: string }>(hub.url, 'POST', '/api/sources', token, {
    slug: 'github',
    name: 'GitHub',
    scheme: 'github',
    secrets: [secret],
    rate_limit: 1_000_000,
  });
  await api(hub.url, 'POST', `/api/sources/${source.id}/rules`, token, {
    name: ruleName,
    condition: {
      and: [
        { path: 'event', eq: 'push' },
        { path: 'body.ref', eq: 'refs/heads/main' },
      ],
    },
    program_id: created.id,
    args: [
      { template: '{{body.repository.full_name}}', pattern: '^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$' },
      { template: '{{body.after}}', pattern: '^[0-9a-f]{40}$' },
    ],
  });
  return `/hooks/${source.slug}`;
}
