import { config } from 'dotenv';
import { existsSync } from 'node:fs';

/** Loads `.env` from the working directory outside production; real environment variables win. */
export function loadDotenv(): void {
  if (process.env.NODE_ENV === 'production' || !existsSync('.env')) return;
  config({ path: '.env', quiet: true, override: false });
}
