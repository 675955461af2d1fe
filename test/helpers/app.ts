import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AppConfig, loadConfig } from '@hookhub/core';
import { createApp } from '@app/api/bootstrap';
import { createTestDatabase, type TestDatabase } from './database';

export const ADMIN_PASSWORD = 'admin-password-1';

export interface InjectOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw payload, sent as is. */
  payload?: string | Buffer;
}

export interface Reply<T = unknown> {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
  json: T;
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  db: TestDatabase;
  env: Record<string, string>;
  baseUrl: string;
  request<T = any>(options: InjectOptions): Promise<Reply<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  login(username?: string, password?: string): Promise<string>;
  /** Creates a user with `role` and returns their id and a token. */
  userWithRole(role: 'admin' | 'operator' | 'viewer'): Promise<{ id: string; username: string; token: string }>;
  close(): Promise<void>;
}

let counter = 0;

/** Boots the real application (app module, guards, pipes, filter) on a fresh database. */
export async function bootApp(
  overrides: Record<string, string> = {},
  existing?: { db: TestDatabase },
): Promise<TestApp> {
  const db = existing?.db ?? (await createTestDatabase());
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    HOOKHUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HOOKHUB_LOG_LEVEL: 'silent',
    HOOKHUB_LOGIN_RATE_LIMIT: '1000',
    ...db.env,
    ...overrides,
  };
  const config = loadConfig(env);
  const app = await createApp(config);

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const request = async <T>(o: InjectOptions): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let payload: string | Buffer | undefined = o.payload;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + o.url, { method: o.method ?? 'GET', headers, body: payload, redirect: 'manual' });
    const body = await res.text();
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    return { statusCode: res.status, headers: Object.fromEntries(res.headers.entries()), body, json: json as T };
  };

  const login = async (username = 'admin', password = ADMIN_PASSWORD): Promise<string> => {
    const res = await request<{ access_token: string }>({
      method: 'POST',
      url: '/api/auth/login',
      body: { username, password },
    });
    if (res.statusCode !== 200) throw new Error(`login as ${username} failed: ${res.statusCode} ${res.body}`);
    return res.json.access_token;
  };

  let adminToken: string | undefined;
  const userWithRole = async (role: 'admin' | 'operator' | 'viewer') => {
    adminToken ??= await login();
    const username = `${role}-${process.pid}-${++counter}`;
    const created = await request<{ id: string }>({
      method: 'POST',
      url: '/api/users',
      token: adminToken,
      body: { username, password: 'user-password-1', role },
    });
    if (created.statusCode !== 201) throw new Error(`create user failed: ${created.statusCode} ${created.body}`);
    return { id: created.json.id, username, token: await login(username, 'user-password-1') };
  };

  return {
    app,
    config,
    db,
    env,
    baseUrl,
    request,
    login,
    userWithRole,
    close: async () => {
      await app.close();
      if (!existing) await db.drop();
    },
  };
}
