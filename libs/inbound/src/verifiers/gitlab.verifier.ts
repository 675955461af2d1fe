import { constantTimeEqual } from '@hookhub/core';
import { type Verifier, invalid, missing, ok } from './verifier';

/** GitLab: the secret token itself in `X-Gitlab-Token`. */
export const gitlabVerifier: Verifier = {
  credentialHeaders: () => ['x-gitlab-token'],
  needsSecret: true,
  defaults: { eventHeader: 'x-gitlab-event' },
  verify(input) {
    const token = input.headers['x-gitlab-token'];
    if (token === undefined) return missing('X-Gitlab-Token is missing');
    return input.secrets.some((s) => constantTimeEqual(token, s))
      ? ok(input.headers['x-gitlab-event-uuid'])
      : invalid('X-Gitlab-Token is not valid');
  },
};
