import 'reflect-metadata';
import { DECORATORS } from '@nestjs/swagger';
import { HookhubError, createValidationPipe } from '@hookhub/core';
import { customHeaderProblems } from '../policy/custom-headers';
import { CreateWebhookDto, PatchWebhookDto, WebhookDto } from '../dto/webhooks.dto';
import {
  SIGNATURE_FORMATS,
  SIGNERS,
  type SignOptions,
  type SignatureFormat,
  signatureHeaderNames,
  signatureHeaders,
} from './signing';

function openApiEnum(dto: { prototype: object }, property: string): unknown {
  return (
    Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, dto.prototype, property) as { enum?: unknown } | undefined
  )?.enum;
}

async function validate(
  metatype: typeof CreateWebhookDto | typeof PatchWebhookDto,
  input: Record<string, unknown>,
): Promise<unknown> {
  return createValidationPipe().transform(input, { type: 'body', metatype });
}

/** Options that change the header names of some format, and none. */
const OPTION_SETS: SignOptions[] = [
  {},
  { headerPrefix: 'X-Forge' },
  { header: 'X-ATLAS-Signature' },
  { header: 'X-ATLAS-Signature', eventHeader: 'X-ATLAS-Event' },
  { headerPrefix: 'X-Hookhub', header: 'X-Sig', eventHeader: 'X-Event' },
];

describe('the signer registry drives the formats everywhere', () => {
  const formats = Object.keys(SIGNERS) as SignatureFormat[];

  it('lists every registered format, in registry order, in the OpenAPI enums of the webhook DTOs', () => {
    expect(SIGNATURE_FORMATS).toEqual(formats);
    expect(formats).toEqual(expect.arrayContaining(['standard-webhooks', 'github', 'hmac-hex']));
    for (const dto of [CreateWebhookDto, PatchWebhookDto, WebhookDto])
      expect([dto.name, openApiEnum(dto, 'signature_format')]).toEqual([dto.name, formats]);
  });

  it.each(formats)('accepts %s in the API validation, and refuses a name not in the registry', async (format) => {
    const body = { url: 'https://example.com/hook', events: ['a.b'], signature_format: format };
    await expect(validate(CreateWebhookDto, body)).resolves.toMatchObject({ signature_format: format });
    await expect(validate(PatchWebhookDto, { signature_format: format })).resolves.toMatchObject({
      signature_format: format,
    });
    const refused = await validate(CreateWebhookDto, { ...body, signature_format: `${format}-v2` }).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(HookhubError);
    expect((refused as HookhubError).details).toEqual([expect.objectContaining({ field: 'signature_format' })]);
  });

  describe.each(formats)('%s', (format) => {
    it.each(OPTION_SETS)('declares exactly the header names it sends, with options %j', (options) => {
      const sent = signatureHeaders({
        format,
        id: 'msg-1',
        timestamp: 1_700_000_000,
        body: Buffer.from('{"a":1}'),
        eventType: 'a.b',
        secrets: ['new-secret', 'old-secret'],
        options,
      });
      expect(signatureHeaderNames(format, options)).toEqual(Object.keys(sent));
    });

    it('keeps a custom header from overriding any header it sends, whatever the case', () => {
      for (const options of OPTION_SETS) {
        const names = signatureHeaderNames(format, options);
        const custom = Object.fromEntries(names.map((name) => [name.toUpperCase(), 'x']));
        expect(customHeaderProblems(custom, names).map((p) => p.field)).toEqual(
          names.map((name) => `headers.${name.toUpperCase()}`),
        );
      }
    });
  });
});
