import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KmsFaultQueue, type KmsStandInCalls, type KmsStandInFault } from './kms-faults';

/** Options of {@link startAwsKmsStandIn}. */
export interface AwsKmsStandInOptions {
  /** Region in the key ARNs (default `us-east-1`). */
  region?: string;
  /** Account in the key ARNs (default `111122223333`). */
  accountId?: string;
  /** Aliases to create, each on its own new key (default `['alias/byok-test']`). */
  aliases?: string[];
  /** Faults to play from the first call on. */
  faults?: KmsStandInFault[];
}

/** One request the stand-in received (test servers keep them so tests can assert what was sent). */
export interface AwsKmsStandInRequest {
  operation: string;
  keyId: string | undefined;
  encryptionContext: Record<string, string> | undefined;
  status: number;
}

/** A running AWS KMS stand-in. */
export interface AwsKmsStandIn {
  /** `http://127.0.0.1:<port>`: pass as the client's `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  /** Key id (UUID) of the first key. */
  readonly keyId: string;
  /** ARN of the first key. */
  readonly keyArn: string;
  /** The first alias (`alias/byok-test`). */
  readonly alias: string;
  /** Creates another key (optionally with an alias); returns its ARN. */
  createKey(alias?: string): string;
  /** Rotates a key's material inside the KMS (old ciphertexts still decrypt). */
  rotateKey(keyIdOrArn: string): void;
  /** Disables or enables a key (`DisabledException` while disabled). */
  setKeyEnabled(keyIdOrArn: string, enabled: boolean): void;
  injectFaults(fault: KmsStandInFault): void;
  clearFaults(): void;
  /** Calls served, per operation (`GenerateDataKey`, `Encrypt`, `Decrypt`). */
  calls(): KmsStandInCalls;
  readonly requests: readonly AwsKmsStandInRequest[];
  close(): Promise<void>;
}

interface Key {
  id: string;
  arn: string;
  enabled: boolean;
  materials: Buffer[];
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const BLOB_VERSION = 0x01;

/**
 * An AWS KMS stand-in on 127.0.0.1 speaking the AWS JSON 1.1 protocol of
 * `TrentService.GenerateDataKey | Encrypt | Decrypt` (`POST /`, `x-amz-target`,
 * base64 binary fields), with real AES-256-GCM key material, EncryptionContext binding,
 * KeyId checks (`IncorrectKeyException`, `NotFoundException`), the service's error
 * shapes (`__type`) and injectable throttling, timeouts and 5xx. Point
 * `@aws-sdk/client-kms` at it with `endpoint`.
 *
 * @example
 * import { awsKms } from '@byok/kms-aws';
 * const standIn = await startAwsKmsStandIn();
 * const kms = awsKms({ keyId: standIn.alias, region: standIn.region, endpoint: standIn.endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
 * await standIn.close();
 */
export async function startAwsKmsStandIn(options: AwsKmsStandInOptions = {}): Promise<AwsKmsStandIn> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '111122223333';
  const keys = new Map<string, Key>();
  const aliases = new Map<string, string>();
  const faults = new KmsFaultQueue(options.faults);
  const byOperation: Record<string, number> = {};
  const requests: AwsKmsStandInRequest[] = [];
  const held = new Set<ServerResponse>();

  function createKey(alias?: string): string {
    const id = randomUUID();
    const arn = `arn:aws:kms:${region}:${accountId}:key/${id}`;
    keys.set(id, { id, arn, enabled: true, materials: [randomBytes(32)] });
    if (alias !== undefined) aliases.set(alias, id);
    return arn;
  }

  function resolve(keyId: unknown): Key {
    if (typeof keyId !== 'string' || keyId === '') throw new KmsError('ValidationException', '1 validation error detected: Value null at \'keyId\' failed to satisfy constraint: Member must not be null');
    let id = keyId;
    if (keyId.startsWith('arn:aws:kms:')) {
      const resource = keyId.split(':').slice(5).join(':');
      if (resource.startsWith('alias/')) id = aliases.get(resource) ?? '';
      else id = resource.replace(/^key\//, '');
    } else if (keyId.startsWith('alias/')) {
      id = aliases.get(keyId) ?? '';
    }
    const key = keys.get(id);
    if (key === undefined) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return key;
  }

  function contextAad(context: unknown): Buffer {
    if (context === undefined || context === null) return Buffer.alloc(0);
    if (typeof context !== 'object') throw new KmsError('ValidationException', 'EncryptionContext must be a map');
    const entries = Object.entries(context as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, v] of entries) if (typeof v !== 'string') throw new KmsError('ValidationException', 'EncryptionContext values must be strings');
    return Buffer.from(JSON.stringify(entries), 'utf8');
  }

  function encrypt(key: Key, plaintext: Buffer, context: unknown): Buffer {
    if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    const material = key.materials.length - 1;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.materials[material]!, nonce);
    cipher.setAAD(contextAad(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const id = Buffer.from(key.id, 'latin1');
    return Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id, Buffer.from([material]), nonce, body, cipher.getAuthTag()]);
  }

  function decrypt(blob: Buffer, requestedKeyId: unknown, context: unknown): { key: Key; plaintext: Buffer } {
    const invalid = () => new KmsError('InvalidCiphertextException', '');
    if (blob.length < 2 || blob[0] !== BLOB_VERSION) throw invalid();
    const idLength = blob[1]!;
    if (blob.length < 2 + idLength + 1 + 12 + 16) throw invalid();
    const id = blob.toString('latin1', 2, 2 + idLength);
    const owner = keys.get(id);
    if (requestedKeyId !== undefined) {
      const requested = resolve(requestedKeyId);
      if (owner === undefined || requested.id !== owner.id) {
        throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
      }
    }
    if (owner === undefined) throw invalid();
    if (!owner.enabled) throw new KmsError('DisabledException', `${owner.arn} is disabled.`);
    const material = owner.materials[blob[2 + idLength]!];
    if (material === undefined) throw invalid();
    const at = 3 + idLength;
    const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(at, at + 12));
    decipher.setAAD(contextAad(context));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    try {
      return { key: owner, plaintext: Buffer.concat([decipher.update(blob.subarray(at + 12, blob.length - 16)), decipher.final()]) };
    } catch {
      throw invalid();
    }
  }

  function binary(value: unknown, name: string): Buffer {
    if (typeof value !== 'string') throw new KmsError('ValidationException', `1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must not be null`);
    return Buffer.from(value, 'base64');
  }

  function handle(operation: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'GenerateDataKey': {
        const key = resolve(body.KeyId);
        const size = body.KeySpec === 'AES_256' ? 32 : body.KeySpec === 'AES_128' ? 16 : typeof body.NumberOfBytes === 'number' ? body.NumberOfBytes : -1;
        if (!(size >= 1 && size <= 1024)) throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
        const plaintext = randomBytes(size);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), CiphertextBlob: encrypt(key, plaintext, body.EncryptionContext).toString('base64') };
      }
      case 'Encrypt': {
        const key = resolve(body.KeyId);
        const plaintext = binary(body.Plaintext, 'plaintext');
        if (plaintext.length < 1 || plaintext.length > 4096) throw new KmsError('ValidationException', 'Plaintext must be 1 to 4096 bytes');
        return { KeyId: key.arn, CiphertextBlob: encrypt(key, plaintext, body.EncryptionContext).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'Decrypt': {
        const { key, plaintext } = decrypt(binary(body.CiphertextBlob, 'ciphertextBlob'), body.KeyId, body.EncryptionContext);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      default:
        throw new KmsError('UnknownOperationException', '');
    }
  }

  function send(res: ServerResponse, status: number, payload: unknown, errorType?: string): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
      ...(errorType ? { 'x-amzn-errortype': `${errorType}:` } : {}),
    });
    res.end(text);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
    const record: AwsKmsStandInRequest = { operation, keyId: undefined, encryptionContext: undefined, status: 200 };
    requests.push(record);
    try {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/') throw new KmsError('UnknownOperationException', '', 404);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new KmsError('SerializationException', 'Unexpected content type');
      }
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        throw new KmsError('SerializationException', 'Malformed JSON');
      }
      record.keyId = typeof body.KeyId === 'string' ? body.KeyId : undefined;
      record.encryptionContext = body.EncryptionContext as Record<string, string> | undefined;
      const fault = faults.take(operation);
      if (fault?.kind === 'timeout') {
        held.add(res);
        const timer = setTimeout(() => {
          held.delete(res);
          if (!res.destroyed) res.destroy();
        }, fault.delayMs ?? 30_000);
        res.on('close', () => {
          clearTimeout(timer);
          held.delete(res);
        });
        record.status = 0;
        return;
      }
      if (fault?.kind === 'throttle') throw new KmsError('ThrottlingException', 'Rate exceeded');
      if (fault?.kind === '5xx') throw new KmsError('KMSInternalException', 'An internal error occurred.', 500);
      const out = handle(operation, body);
      byOperation[operation] = (byOperation[operation] ?? 0) + 1;
      send(res, 200, out);
    } catch (error) {
      const e = error instanceof KmsError ? error : new KmsError('KMSInternalException', 'An internal error occurred.', 500);
      record.status = e.status;
      send(res, e.status, { __type: e.type, message: e.message }, e.type);
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { __type: 'KMSInternalException', message: 'An internal error occurred.' });
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const port = (server.address() as AddressInfo).port;

  const aliasList = options.aliases ?? ['alias/byok-test'];
  const firstArn = createKey(aliasList[0]);
  for (const alias of aliasList.slice(1)) createKey(alias);
  const firstId = firstArn.split('/').pop()!;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    keyId: firstId,
    keyArn: firstArn,
    alias: aliasList[0] ?? firstArn,
    createKey,
    rotateKey(keyIdOrArn) {
      resolve(keyIdOrArn).materials.push(randomBytes(32));
    },
    setKeyEnabled(keyIdOrArn, enabled) {
      resolve(keyIdOrArn).enabled = enabled;
    },
    injectFaults: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    calls: () => ({ total: Object.values(byOperation).reduce((a, b) => a + b, 0), byOperation: { ...byOperation } }),
    requests,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
