import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import { crc32c } from './crc32c';
import { KmsFaultQueue, type KmsStandInCalls, type KmsStandInFault } from './kms-faults';

/** Options of {@link startGcpKmsStandIn}. */
export interface GcpKmsStandInOptions {
  project?: string;
  location?: string;
  keyRing?: string;
  /** Crypto key ids to create, each with one enabled primary version (default `['byok-test']`). */
  cryptoKeys?: string[];
  /** Faults to play from the first call on (gRPC and REST alike). */
  faults?: KmsStandInFault[];
  /** What the caller's IAM role allows (default: everything); see {@link GcpKmsPermissions}. */
  permissions?: GcpKmsPermissions;
}

/**
 * The IAM permissions the caller holds, per operation (an omitted one is granted):
 * `encrypt` = `cloudkms.cryptoKeyVersions.useToEncrypt`, `decrypt` =
 * `cloudkms.cryptoKeyVersions.useToDecrypt`, `get` = `cloudkms.cryptoKeys.get`.
 * `roles/cloudkms.cryptoKeyEncrypterDecrypter` is `{ encrypt: true, decrypt: true, get: false }`.
 * A call without its permission fails as Cloud KMS fails it: `PERMISSION_DENIED` (gRPC 7,
 * REST 403) naming the permission and the crypto key.
 */
export interface GcpKmsPermissions {
  encrypt?: boolean;
  decrypt?: boolean;
  get?: boolean;
}

/**
 * A well-formed answer whose integrity fields do not hold, as a response damaged between
 * Cloud KMS and the client would look (the reason Cloud KMS has CRC32C fields at all):
 * - `corrupt-ciphertext` (Encrypt): one bit of `ciphertext` flipped, `ciphertextCrc32c` of the original;
 * - `corrupt-ciphertext-crc` (Encrypt): `ciphertextCrc32c` of other bytes;
 * - `unverified-plaintext-crc` (Encrypt): `verifiedPlaintextCrc32c: false`, as if the request's checksum never arrived;
 * - `unverified-aad-crc` (Encrypt): `verifiedAdditionalAuthenticatedDataCrc32c: false`, likewise;
 * - `corrupt-plaintext` (Decrypt): one bit of `plaintext` flipped, `plaintextCrc32c` of the original;
 * - `corrupt-plaintext-crc` (Decrypt): `plaintextCrc32c` of other bytes.
 */
export type GcpIntegrityFaultKind =
  | 'corrupt-ciphertext'
  | 'corrupt-ciphertext-crc'
  | 'unverified-plaintext-crc'
  | 'unverified-aad-crc'
  | 'corrupt-plaintext'
  | 'corrupt-plaintext-crc';

/** An integrity fault for the next `times` (default 1) calls of the operation its kind names. */
export interface GcpIntegrityFault {
  kind: GcpIntegrityFaultKind;
  times?: number;
}

const INTEGRITY_FAULT_OPERATION: Record<GcpIntegrityFaultKind, 'Encrypt' | 'Decrypt'> = {
  'corrupt-ciphertext': 'Encrypt',
  'corrupt-ciphertext-crc': 'Encrypt',
  'unverified-plaintext-crc': 'Encrypt',
  'unverified-aad-crc': 'Encrypt',
  'corrupt-plaintext': 'Decrypt',
  'corrupt-plaintext-crc': 'Decrypt',
};

/** The state of a key version (as Cloud KMS names them). */
export type GcpKeyVersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

/** One request the stand-in received. */
export interface GcpKmsStandInRequest {
  transport: 'grpc' | 'rest';
  operation: string;
  name: string;
  /** The gRPC status code (0 = OK) the call ended with; -1 when held by a timeout fault. */
  code: number;
}

/** A running Cloud KMS stand-in (gRPC and REST on two loopback ports). */
export interface GcpKmsStandIn {
  /** `127.0.0.1`: the client's `apiEndpoint`. */
  readonly host: string;
  /** gRPC port (insecure). */
  readonly grpcPort: number;
  /** HTTP/1.1 port of the REST shape (`fallback: true, protocol: 'http'`). */
  readonly restPort: number;
  /** Resource name of the first crypto key. */
  readonly keyName: string;
  /** Resource name of a crypto key by id. */
  cryptoKeyName(id: string): string;
  /** Creates a crypto key (one enabled primary version); returns its name. */
  createCryptoKey(id: string): string;
  /** Adds a version and makes it primary; returns the new version number. */
  rotate(keyName: string): number;
  setVersionState(keyName: string, version: number, state: GcpKeyVersionState): void;
  injectFaults(fault: KmsStandInFault): void;
  /** Replaces the caller's permissions (`{}` grants everything again). */
  setPermissions(permissions: GcpKmsPermissions): void;
  /**
   * `false`: every call is refused as with revoked or expired credentials,
   * `UNAUTHENTICATED` (gRPC 16, REST 401 with `WWW-Authenticate`). Default `true`.
   */
  setCredentialsValid(valid: boolean): void;
  /** Damages the integrity fields of the next matching successful answers (gRPC and REST alike). */
  injectIntegrityFault(fault: GcpIntegrityFault): void;
  /** Drops pending faults of both kinds. */
  clearFaults(): void;
  /** Calls served, per operation (`Encrypt`, `Decrypt`, `GetCryptoKey`); `total` counts Encrypt and Decrypt only. */
  calls(): KmsStandInCalls;
  readonly requests: readonly GcpKmsStandInRequest[];
  close(): Promise<void>;
}

interface Version {
  material: Buffer;
  state: GcpKeyVersionState;
  createdAt: number;
}

interface CryptoKey {
  name: string;
  primary: number;
  versions: Map<number, Version>;
  createdAt: number;
}

/** gRPC status codes used here (values of `@grpc/grpc-js` `status`). */
const Status = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const HTTP_OF: Partial<Record<number, [number, string]>> = {
  [Status.INVALID_ARGUMENT]: [400, 'INVALID_ARGUMENT'],
  [Status.FAILED_PRECONDITION]: [400, 'FAILED_PRECONDITION'],
  [Status.NOT_FOUND]: [404, 'NOT_FOUND'],
  [Status.PERMISSION_DENIED]: [403, 'PERMISSION_DENIED'],
  [Status.UNAUTHENTICATED]: [401, 'UNAUTHENTICATED'],
  [Status.RESOURCE_EXHAUSTED]: [429, 'RESOURCE_EXHAUSTED'],
  [Status.UNAVAILABLE]: [503, 'UNAVAILABLE'],
  [Status.INTERNAL]: [500, 'INTERNAL'],
  [Status.UNIMPLEMENTED]: [501, 'UNIMPLEMENTED'],
};

/** The IAM permission each operation needs, as Cloud KMS names it in its refusal. */
const PERMISSION_OF: Record<string, { option: keyof GcpKmsPermissions; permission: string }> = {
  Encrypt: { option: 'encrypt', permission: 'cloudkms.cryptoKeyVersions.useToEncrypt' },
  Decrypt: { option: 'decrypt', permission: 'cloudkms.cryptoKeyVersions.useToDecrypt' },
  GetCryptoKey: { option: 'get', permission: 'cloudkms.cryptoKeys.get' },
};
const UNAUTHENTICATED_MESSAGE =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/**
 * Enum values as numbers, for a REST client that asks for them
 * (`$alt=json;enum-encoding=int`, which @google-cloud/kms always sends).
 */
const ENUM_NUMBERS: Record<string, Record<string, number>> = {
  protectionLevel: { PROTECTION_LEVEL_UNSPECIFIED: 0, SOFTWARE: 1, HSM: 2, EXTERNAL: 3, EXTERNAL_VPC: 4 },
  state: { CRYPTO_KEY_VERSION_STATE_UNSPECIFIED: 0, ENABLED: 1, DISABLED: 2, DESTROYED: 3, DESTROY_SCHEDULED: 4, PENDING_GENERATION: 5 },
  purpose: { CRYPTO_KEY_PURPOSE_UNSPECIFIED: 0, ENCRYPT_DECRYPT: 1 },
  algorithm: { CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED: 0, GOOGLE_SYMMETRIC_ENCRYPTION: 1 },
};

/** A REST answer with its enum fields (at any depth) as numbers. */
function numericEnums(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(numericEnums);
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const table = ENUM_NUMBERS[key];
    out[key] = table !== undefined && typeof field === 'string' && table[field] !== undefined ? table[field] : numericEnums(field);
  }
  return out;
}

class KmsCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface EncryptInput {
  name: string;
  plaintext: Buffer;
  aad: Buffer;
  plaintextCrc32c?: number;
  aadCrc32c?: number;
}

interface DecryptInput {
  name: string;
  ciphertext: Buffer;
  aad: Buffer;
  ciphertextCrc32c?: number;
  aadCrc32c?: number;
}

/**
 * A Cloud KMS stand-in on 127.0.0.1 that serves `KeyManagementService` Encrypt, Decrypt
 * and GetCryptoKey over gRPC (from the .proto files shipped in @google-cloud/kms and
 * google-gax) and over the REST shape (`POST /v1/{name}:encrypt|decrypt`,
 * `GET /v1/{name}`, JSON with base64 bytes, enums as numbers when the client asks with
 * `$alt=json;enum-encoding=int`), with real AES-256-GCM key material per version,
 * additionalAuthenticatedData binding, CRC32C integrity fields, primary versions, version
 * states, per-operation IAM permissions and revoked credentials (`PERMISSION_DENIED`,
 * `UNAUTHENTICATED`), and injectable throttling, timeouts and 5xx.
 *
 * @example
 * import * as grpc from '@grpc/grpc-js';
 * import { gcpKms } from '@byok/kms-gcp';
 * const standIn = await startGcpKmsStandIn();
 * const authClient = { getRequestHeaders: async () => new Headers() }; // no Google credentials on loopback
 * const kms = gcpKms({
 *   keyName: standIn.keyName,
 *   clientOptions: { apiEndpoint: standIn.host, port: standIn.grpcPort, sslCreds: grpc.credentials.createInsecure(), authClient: authClient as never },
 * });
 */
export async function startGcpKmsStandIn(options: GcpKmsStandInOptions = {}): Promise<GcpKmsStandIn> {
  const project = options.project ?? 'byok-test-project';
  const location = options.location ?? 'global';
  const keyRing = options.keyRing ?? 'byok-ring';
  const ringName = `projects/${project}/locations/${location}/keyRings/${keyRing}`;
  const keys = new Map<string, CryptoKey>();
  const faults = new KmsFaultQueue(options.faults);
  const byOperation: Record<string, number> = {};
  const requests: GcpKmsStandInRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const integrityFaults: Array<{ kind: GcpIntegrityFaultKind; times: number }> = [];
  let permissions: GcpKmsPermissions = { ...options.permissions };
  let credentialsValid = true;

  /** Authentication, then IAM, as Cloud KMS checks them before anything else (a refused call consumes no fault). */
  function authorize(operation: string, name: string): void {
    if (!credentialsValid) throw new KmsCallError(Status.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
    const needed = PERMISSION_OF[operation];
    if (needed !== undefined && permissions[needed.option] === false) {
      const resource = name.replace(/\/cryptoKeyVersions\/[^/]+$/, '');
      throw new KmsCallError(Status.PERMISSION_DENIED, `Permission '${needed.permission}' denied on resource '${resource}' (or it may not exist).`);
    }
  }

  function takeIntegrityFault(operation: 'Encrypt' | 'Decrypt'): GcpIntegrityFaultKind | undefined {
    const index = integrityFaults.findIndex((f) => INTEGRITY_FAULT_OPERATION[f.kind] === operation);
    if (index < 0) return undefined;
    const fault = integrityFaults[index]!;
    if (--fault.times <= 0) integrityFaults.splice(index, 1);
    return fault.kind;
  }
  const flipBit = (data: Buffer): Buffer => {
    const copy = Buffer.from(data);
    copy[copy.length - 1]! ^= 0x01;
    return copy;
  };
  const otherCrc = (crc: number): number => (crc ^ 0x01) >>> 0;

  const cryptoKeyName = (id: string) => `${ringName}/cryptoKeys/${id}`;
  function createCryptoKey(id: string): string {
    const name = cryptoKeyName(id);
    keys.set(name, { name, primary: 1, versions: new Map([[1, { material: randomBytes(32), state: 'ENABLED', createdAt: Date.now() }]]), createdAt: Date.now() });
    return name;
  }

  function keyOf(name: string): CryptoKey {
    const key = keys.get(name);
    if (key === undefined) throw new KmsCallError(Status.NOT_FOUND, `CryptoKey ${name} not found.`);
    return key;
  }

  /** A crypto key or crypto key version name → key and version (primary when not named). */
  function resolveForEncrypt(name: string): { key: CryptoKey; version: number } {
    const match = /^(.*)\/cryptoKeyVersions\/(\d+)$/.exec(name);
    if (match) {
      const key = keyOf(match[1]!);
      const version = Number(match[2]);
      if (!key.versions.has(version)) throw new KmsCallError(Status.NOT_FOUND, `CryptoKeyVersion ${name} not found.`);
      return { key, version };
    }
    return { key: keyOf(name), version: keyOf(name).primary };
  }

  function usable(key: CryptoKey, version: number): Version {
    const v = key.versions.get(version);
    if (v === undefined) throw new KmsCallError(Status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    if (v.state !== 'ENABLED') {
      throw new KmsCallError(Status.FAILED_PRECONDITION, `${key.name}/cryptoKeyVersions/${version} is not enabled, current state is: ${v.state}.`);
    }
    return v;
  }

  function checkCrc(data: Buffer, expected: number | undefined, field: string): boolean {
    if (expected === undefined) return false;
    if (crc32c(data) !== expected) throw new KmsCallError(Status.INVALID_ARGUMENT, `The checksum in field ${field} did not match the data in field ${field.replace(/_crc32c$/, '')}.`);
    return true;
  }

  function encrypt(input: EncryptInput) {
    const { key, version } = resolveForEncrypt(input.name);
    const v = usable(key, version);
    if (input.plaintext.length === 0 || input.plaintext.length > 65536) throw new KmsCallError(Status.INVALID_ARGUMENT, 'plaintext must be 1 to 65536 bytes.');
    const verifiedPlaintext = checkCrc(input.plaintext, input.plaintextCrc32c, 'plaintext_crc32c');
    const verifiedAad = checkCrc(input.aad, input.aadCrc32c, 'additional_authenticated_data_crc32c');
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', v.material, nonce);
    cipher.setAAD(input.aad);
    const body = Buffer.concat([cipher.update(input.plaintext), cipher.final()]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(version);
    const ciphertext = Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
    const out = {
      name: `${key.name}/cryptoKeyVersions/${version}`,
      ciphertext,
      ciphertextCrc32c: crc32c(ciphertext),
      verifiedPlaintextCrc32c: verifiedPlaintext,
      verifiedAdditionalAuthenticatedDataCrc32c: verifiedAad,
      protectionLevel: 'SOFTWARE',
    };
    switch (takeIntegrityFault('Encrypt')) {
      case 'corrupt-ciphertext':
        return { ...out, ciphertext: flipBit(ciphertext) };
      case 'corrupt-ciphertext-crc':
        return { ...out, ciphertextCrc32c: otherCrc(out.ciphertextCrc32c) };
      case 'unverified-plaintext-crc':
        return { ...out, verifiedPlaintextCrc32c: false };
      case 'unverified-aad-crc':
        return { ...out, verifiedAdditionalAuthenticatedDataCrc32c: false };
      default:
        return out;
    }
  }

  function decrypt(input: DecryptInput) {
    if (/\/cryptoKeyVersions\//.test(input.name)) throw new KmsCallError(Status.INVALID_ARGUMENT, 'Decrypt takes a CryptoKey name, not a CryptoKeyVersion.');
    const key = keyOf(input.name);
    checkCrc(input.ciphertext, input.ciphertextCrc32c, 'ciphertext_crc32c');
    checkCrc(input.aad, input.aadCrc32c, 'additional_authenticated_data_crc32c');
    const c = input.ciphertext;
    const invalid = () => new KmsCallError(Status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    if (c.length < 4 + 12 + 16) throw invalid();
    const version = c.readUInt32BE(0);
    const v = usable(key, version);
    const decipher = createDecipheriv('aes-256-gcm', v.material, c.subarray(4, 16));
    decipher.setAAD(input.aad);
    decipher.setAuthTag(c.subarray(c.length - 16));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(c.subarray(16, c.length - 16)), decipher.final()]);
    } catch {
      throw invalid();
    }
    const out = { plaintext, plaintextCrc32c: crc32c(plaintext), usedPrimary: version === key.primary, protectionLevel: 'SOFTWARE' };
    switch (takeIntegrityFault('Decrypt')) {
      case 'corrupt-plaintext':
        return { ...out, plaintext: flipBit(plaintext) };
      case 'corrupt-plaintext-crc':
        return { ...out, plaintextCrc32c: otherCrc(out.plaintextCrc32c) };
      default:
        return out;
    }
  }

  function getCryptoKey(name: string) {
    const key = keyOf(name);
    const primary = key.versions.get(key.primary)!;
    const seconds = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: 0 });
    return {
      name: key.name,
      purpose: 'ENCRYPT_DECRYPT',
      createTime: seconds(key.createdAt),
      primary: {
        name: `${key.name}/cryptoKeyVersions/${key.primary}`,
        state: primary.state,
        protectionLevel: 'SOFTWARE',
        algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION',
        createTime: seconds(primary.createdAt),
      },
    };
  }

  /** Runs one call through the fault queue; resolves with the result, or undefined when held (timeout). */
  function run<T>(transport: 'grpc' | 'rest', operation: string, name: string, fn: () => T, reply: (error: KmsCallError | null, value?: T) => void): void {
    const record: GcpKmsStandInRequest = { transport, operation, name, code: 0 };
    requests.push(record);
    try {
      authorize(operation, name);
    } catch (error) {
      record.code = (error as KmsCallError).code;
      reply(error as KmsCallError);
      return;
    }
    const fault = faults.take(operation);
    if (fault?.kind === 'timeout') {
      record.code = -1;
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply(new KmsCallError(Status.UNAVAILABLE, 'The service was unable to fulfill your request.'));
      }, fault.delayMs ?? 30_000);
      timers.add(timer);
      return;
    }
    try {
      if (fault?.kind === 'throttle') throw new KmsCallError(Status.RESOURCE_EXHAUSTED, 'Quota exceeded for quota metric \'Cryptographic requests\'.');
      if (fault?.kind === '5xx') throw new KmsCallError(Status.UNAVAILABLE, 'The service is currently unavailable.');
      const value = fn();
      byOperation[operation] = (byOperation[operation] ?? 0) + 1;
      reply(null, value);
    } catch (error) {
      const e = error instanceof KmsCallError ? error : new KmsCallError(Status.INTERNAL, 'Internal error encountered.');
      record.code = e.code;
      reply(e);
    }
  }

  // ---- gRPC (loaded lazily, so importing @byok/testing stays light) ---------------
  const grpc = await import('@grpc/grpc-js');
  const protoLoader = await import('@grpc/proto-loader');
  const require = createRequire(import.meta.url);
  const kmsRoot = dirname(dirname(dirname(require.resolve('@google-cloud/kms'))));
  const gaxRoot = dirname(dirname(dirname(createRequire(join(kmsRoot, 'package.json')).resolve('google-gax'))));
  const definition = await protoLoader.load('google/cloud/kms/v1/service.proto', {
    includeDirs: [join(kmsRoot, 'build/protos'), join(gaxRoot, 'build/protos')],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: GrpcJs.ServiceClientConstructor } } } };
  };
  const service = pkg.google.cloud.kms.v1.KeyManagementService.service;
  const crcOf = (value: unknown): number | undefined => {
    const v = (value as { value?: unknown } | null | undefined)?.value;
    return v === undefined || v === null ? undefined : Number(v);
  };
  const grpcReply =
    <T>(callback: GrpcJs.sendUnaryData<T>) =>
    (error: KmsCallError | null, value?: T) => {
      if (error) callback({ code: error.code, details: error.message, metadata: new grpc.Metadata() });
      else callback(null, value);
    };
  type Req = Record<string, unknown>;
  const server = new grpc.Server();
  server.addService(service, {
    Encrypt(call: GrpcJs.ServerUnaryCall<Req, unknown>, callback: GrpcJs.sendUnaryData<unknown>) {
      const r = call.request;
      run('grpc', 'Encrypt', String(r.name), () => {
        const out = encrypt({
          name: String(r.name),
          plaintext: Buffer.from(r.plaintext as Uint8Array),
          aad: Buffer.from((r.additionalAuthenticatedData as Uint8Array | undefined) ?? []),
          plaintextCrc32c: crcOf(r.plaintextCrc32c),
          aadCrc32c: crcOf(r.additionalAuthenticatedDataCrc32c),
        });
        return { ...out, ciphertextCrc32c: { value: String(out.ciphertextCrc32c) } };
      }, grpcReply(callback));
    },
    Decrypt(call: GrpcJs.ServerUnaryCall<Req, unknown>, callback: GrpcJs.sendUnaryData<unknown>) {
      const r = call.request;
      run('grpc', 'Decrypt', String(r.name), () => {
        const out = decrypt({
          name: String(r.name),
          ciphertext: Buffer.from(r.ciphertext as Uint8Array),
          aad: Buffer.from((r.additionalAuthenticatedData as Uint8Array | undefined) ?? []),
          ciphertextCrc32c: crcOf(r.ciphertextCrc32c),
          aadCrc32c: crcOf(r.additionalAuthenticatedDataCrc32c),
        });
        return { ...out, plaintextCrc32c: { value: String(out.plaintextCrc32c) } };
      }, grpcReply(callback));
    },
    GetCryptoKey(call: GrpcJs.ServerUnaryCall<Req, unknown>, callback: GrpcJs.sendUnaryData<unknown>) {
      run('grpc', 'GetCryptoKey', String(call.request.name), () => getCryptoKey(String(call.request.name)), grpcReply(callback));
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );

  // ---- REST ---------------------------------------------------------------------
  const b64 = (value: unknown): Buffer => (typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0));
  const num = (value: unknown): number | undefined => (value === undefined || value === null ? undefined : Number(value));
  function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
  const restReply =
    (res: ServerResponse, shape: (value: never) => unknown, enums: 'string' | 'int' = 'string') =>
    (error: KmsCallError | null, value?: unknown) => {
      if (error) {
        const [status, name] = HTTP_OF[error.code] ?? [500, 'INTERNAL'];
        const challenge = error.code === Status.UNAUTHENTICATED ? { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' } : undefined;
        sendJson(res, status, { error: { code: status, message: error.message, status: name } }, challenge);
      } else {
        const out = shape(value as never);
        sendJson(res, 200, enums === 'int' ? numericEnums(out) : out);
      }
    };
  async function onRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    // The client's `$alt=json;enum-encoding=int` asks for enums as numbers.
    const enums = (url.searchParams.get('$alt') ?? '').split(';').includes('enum-encoding=int') ? 'int' : 'string';
    const match = /^\/v1\/(.+?)(?::(encrypt|decrypt))?$/.exec(path);
    let body: Record<string, unknown> = {};
    try {
      if (chunks.length > 0) body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      sendJson(res, 400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
      return;
    }
    if (match && req.method === 'POST' && match[2] === 'encrypt') {
      const name = match[1]!;
      run('rest', 'Encrypt', name, () =>
        encrypt({
          name,
          plaintext: b64(body.plaintext),
          aad: b64(body.additionalAuthenticatedData),
          plaintextCrc32c: num(body.plaintextCrc32c),
          aadCrc32c: num(body.additionalAuthenticatedDataCrc32c),
        }),
      restReply(res, (out: ReturnType<typeof encrypt>) => ({ ...out, ciphertext: out.ciphertext.toString('base64'), ciphertextCrc32c: String(out.ciphertextCrc32c) }), enums));
    } else if (match && req.method === 'POST' && match[2] === 'decrypt') {
      const name = match[1]!;
      run('rest', 'Decrypt', name, () =>
        decrypt({
          name,
          ciphertext: b64(body.ciphertext),
          aad: b64(body.additionalAuthenticatedData),
          ciphertextCrc32c: num(body.ciphertextCrc32c),
          aadCrc32c: num(body.additionalAuthenticatedDataCrc32c),
        }),
      restReply(res, (out: ReturnType<typeof decrypt>) => ({ ...out, plaintext: out.plaintext.toString('base64'), plaintextCrc32c: String(out.plaintextCrc32c) }), enums));
    } else if (match && req.method === 'GET' && match[2] === undefined) {
      const name = match[1]!;
      run('rest', 'GetCryptoKey', name, () => getCryptoKey(name), restReply(res, (out: ReturnType<typeof getCryptoKey>) => ({
        ...out,
        createTime: new Date(Number(out.createTime.seconds) * 1000).toISOString(),
        primary: { ...out.primary, createTime: new Date(Number(out.primary.createTime.seconds) * 1000).toISOString() },
      }), enums));
    } else {
      sendJson(res, 404, { error: { code: 404, message: `No route for ${req.method} ${url.pathname}`, status: 'NOT_FOUND' } });
    }
  }
  const http = createServer((req, res) => {
    onRest(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 500, message: 'Internal error encountered.', status: 'INTERNAL' } });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const restPort = (http.address() as AddressInfo).port;

  const first = createCryptoKey((options.cryptoKeys ?? ['byok-test'])[0] ?? 'byok-test');
  for (const id of (options.cryptoKeys ?? []).slice(1)) createCryptoKey(id);

  return {
    host: '127.0.0.1',
    grpcPort,
    restPort,
    keyName: first,
    cryptoKeyName,
    createCryptoKey,
    rotate(keyName) {
      const key = keyOf(keyName);
      const next = Math.max(...key.versions.keys()) + 1;
      key.versions.set(next, { material: randomBytes(32), state: 'ENABLED', createdAt: Date.now() });
      key.primary = next;
      return next;
    },
    setVersionState(keyName, version, state) {
      const v = keyOf(keyName).versions.get(version);
      if (v === undefined) throw new Error(`no version ${version} of ${keyName}`);
      v.state = state;
    },
    injectFaults: (fault) => faults.add(fault),
    setPermissions(next) {
      permissions = { ...next };
    },
    setCredentialsValid(valid) {
      credentialsValid = valid;
    },
    injectIntegrityFault(fault) {
      const times = fault.times ?? 1;
      if (times > 0) integrityFaults.push({ kind: fault.kind, times });
    },
    clearFaults: () => {
      faults.clear();
      integrityFaults.length = 0;
    },
    calls: () => {
      const total = (byOperation.Encrypt ?? 0) + (byOperation.Decrypt ?? 0);
      return { total, byOperation: { ...byOperation } };
    },
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.forceShutdown();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
