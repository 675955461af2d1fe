import { type FormEvent, useState } from 'react';
import { api, call, session } from '../api';
import { ErrorNote, TextField, useAction } from '../ui';

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      const token = await call(api.POST('/api/auth/login', { body: { username, password } }));
      const me = await call(api.GET('/api/auth/me', { headers: { authorization: `Bearer ${token.access_token}` } }));
      session.start(token.access_token, me);
    });
  };

  return (
    <main className="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Hookhub</h1>
        <p className="muted">Sign in to the operator console.</p>
        {session.endedBecause && !action.error && (
          <p className="notice" role="status">
            {session.endedBecause}
          </p>
        )}
        <TextField
          label="Username"
          name="username"
          error={action.error}
          autoComplete="username"
          autoFocus
          required
          value={username}
          onChange={setUsername}
        />
        <TextField
          label="Password"
          name="password"
          error={action.error}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={setPassword}
        />
        <ErrorNote error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
