'use strict';
// protomodel's services for Node.js, loaded from .proto files at run time:
// connect() returns one client per built-in service (the same protos the
// server is built from), connectTo() one per service of the .proto files you
// give it (your own protos, which the server serves from a descriptor set).
// Each client's channel retries UNAVAILABLE (and, for creates, the in-doubt
// UNKNOWN), accepts the server's 64 MiB messages and, given a token, sends it
// on every call.
// By default the server and how to reach it come from the environment, with
// the names the C++ client and the CLI read (see optionsFromEnv).
// errorDetails() reads the AIP-193 details (google.rpc.Status) an error
// carries.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');
// google/protobuf/descriptor.proto (for the mapping options) ships with
// Debian's libprotobuf-dev.
const INCLUDE_DIRS = [PROTO_DIR, '/usr/include'];
// google/rpc/status.proto and error_details.proto: a copy, as no Debian
// package ships them.
const GOOGLEAPIS_DIR = path.join(__dirname, '..', '..', 'third_party', 'googleapis');

// The built-in protos: every .proto under proto/ but the protomodel options.
function builtinFiles(dir = '') {
  const files = [];
  for (const entry of fs.readdirSync(path.join(PROTO_DIR, dir), { withFileTypes: true })) {
    const name = path.posix.join(dir, entry.name);
    if (entry.isDirectory() && name !== 'protomodel') files.push(...builtinFiles(name));
    else if (entry.isFile() && name.endsWith('.proto')) files.push(name);
  }
  return files;
}

// files: .proto files, each absolute or relative to one of includeDirs;
// their imports resolve against includeDirs, then proto/ (the protomodel
// options) and /usr/include (the well-known types).
function load({ files, includeDirs = [] }) {
  if (!Array.isArray(files) || files.length === 0) {
    throw new Error('no .proto files to load: give { files: [...], includeDirs: [...] }');
  }
  return protoLoader.loadSync(files, {
    includeDirs: [...includeDirs, ...INCLUDE_DIRS],
    keepCase: true, // field names as in the protos: secret_name, update_mask
    longs: String, // int64 ids as strings, like the JSON mapping
    enums: String,
    defaults: false,
    oneofs: true,
  });
}

// The services of a package definition, by full name ('library.v1.BookService'):
// its entries that are not messages or enums (those have a `format`).
function servicesOf(definition) {
  return Object.fromEntries(Object.entries(definition).filter(([, value]) => !('format' in value)));
}

const retryPolicy = (retryableStatusCodes) => ({
  maxAttempts: 5,
  initialBackoff: '0.05s',
  maxBackoff: '1s',
  backoffMultiplier: 2,
  retryableStatusCodes,
});

// Every method, of whatever service (the empty name matches them all),
// retries UNAVAILABLE: nothing was written. The creates of the given services
// (methods named Create*), which carry a request_id, also retry the in-doubt
// UNKNOWN: a name with service and method wins over the empty one.
function serviceConfigFor(services) {
  const creates = Object.values(services).flatMap((methods) => Object.values(methods))
    .map((method) => method.path.split('/'))
    .filter(([, , method]) => method.startsWith('Create'))
    .map(([, service, method]) => ({ service, method }));
  const methodConfig = [{ name: [{}], retryPolicy: retryPolicy(['UNAVAILABLE']) }];
  if (creates.length > 0) {
    methodConfig.push({ name: creates, retryPolicy: retryPolicy(['UNAVAILABLE', 'UNKNOWN']) });
  }
  return { methodConfig };
}

// The connect() options the environment gives:
//   PROTOMODEL_TLS               "1" or "true": tls
//   PROTOMODEL_TLS_CA_FILE       caFile, a PEM CA bundle verifying the server
//                                (none: the system's roots)
//   PROTOMODEL_CLIENT_CERT_FILE  certFile and keyFile, a client certificate for
//   PROTOMODEL_CLIENT_KEY_FILE   a server that requires mTLS
//   PROTOMODEL_TOKEN             token, sent as `authorization: Bearer <token>`
// A caFile or a client certificate also means TLS: the channel never falls
// back to plaintext with them.
function optionsFromEnv(env = process.env) {
  return {
    tls: env.PROTOMODEL_TLS === '1' || env.PROTOMODEL_TLS === 'true',
    caFile: env.PROTOMODEL_TLS_CA_FILE || undefined,
    certFile: env.PROTOMODEL_CLIENT_CERT_FILE || undefined,
    keyFile: env.PROTOMODEL_CLIENT_KEY_FILE || undefined,
    token: env.PROTOMODEL_TOKEN || undefined,
  };
}

// Adds `authorization: Bearer <token>` to every call. An interceptor rather
// than call credentials, which grpc-js sends over TLS only (and refuses to
// combine with insecure credentials): this also works in plaintext, for a
// server behind a mesh sidecar that terminates mTLS (--allow_plaintext_tokens).
function bearerToken(token) {
  return (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${token}`);
      next(metadata, listener);
    },
  });
}

// A client for every service the .proto files define (and their imports),
// keyed by the service's full name, e.g. for a server of your own protos
// (protomodel-server --descriptor_set=...):
//   const clients = connectTo('localhost:50051',
//     { files: ['library/v1/library.proto'], includeDirs: ['my_protos'] });
//   const books = clients['library.v1.BookService'];
// files and includeDirs: as for load() above. target: host:port, default
// PROTOMODEL_TARGET or localhost:50051. options: { tls: bool, caFile,
// certFile, keyFile, token }, default optionsFromEnv(); to override one,
// spread it: { ...optionsFromEnv(), token }. Each client has a channel of its
// own; close() each when done.
function connectTo(target, protos, options = optionsFromEnv()) {
  const services = servicesOf(load(protos));
  if (!options.certFile !== !options.keyFile) {
    throw new Error('a client certificate needs both certFile and keyFile');
  }
  const tls = options.tls || Boolean(options.caFile) || Boolean(options.certFile);
  const credentials = tls
    ? grpc.credentials.createSsl(
      options.caFile ? fs.readFileSync(options.caFile) : null,
      options.keyFile ? fs.readFileSync(options.keyFile) : null,
      options.certFile ? fs.readFileSync(options.certFile) : null)
    : grpc.credentials.createInsecure();
  const serviceConfig = JSON.stringify(serviceConfigFor(services));
  const channelOptions = () => ({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.service_config': serviceConfig,
    // A connection of each client's own: one kept for watches (streams that
    // last) never shares its connection's stream limit with unary calls.
    'grpc.use_local_subchannel_pool': 1,
    // A fresh object per client: grpc-js deletes `interceptors` from it.
    interceptors: options.token ? [bearerToken(options.token)] : [],
  });
  const clients = {};
  for (const [name, service] of Object.entries(services)) {
    const Client = grpc.makeClientConstructor(service, name.slice(name.lastIndexOf('.') + 1));
    clients[name] = new Client(target || process.env.PROTOMODEL_TARGET || 'localhost:50051',
      credentials, channelOptions());
  }
  return clients;
}

// The built-in services, by their package's first part and their name:
// a.v1.BService is connect().a.BService. target and options: as for
// connectTo().
function connect(target = process.env.PROTOMODEL_TARGET || 'localhost:50051',
  options = optionsFromEnv()) {
  const all = connectTo(target, { files: builtinFiles() }, options);
  // 'a.v1.XService' -> clients.a.XService
  const clients = {};
  for (const [fullName, client] of Object.entries(all)) {
    const parts = fullName.split('.');
    const key = parts[0];
    clients[key] = clients[key] || {};
    clients[key][parts[parts.length - 1]] = client;
  }
  return clients;
}

// A unary call as a promise, with a deadline in seconds.
function call(client, method, request, seconds = 10) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + seconds * 1000 }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

// A fresh request_id per logical create makes the channel's retries safe.
function newRequestId() {
  return crypto.randomUUID();
}

// google.rpc's types, loaded from GOOGLEAPIS_DIR on first use, with field
// names as in the protos (like load()'s keepCase): field_violations,
// resource_type, retry_delay.
let rpcRoot;
function rpcTypes() {
  if (!rpcRoot) {
    // Their imports, google/protobuf/any.proto and duration.proto, come
    // with protobufjs.
    rpcRoot = new protobuf.Root().loadSync(
      ['status.proto', 'error_details.proto'].map(
        (file) => path.join(GOOGLEAPIS_DIR, 'google', 'rpc', file)),
      { keepCase: true }).resolveAll();
  }
  return rpcRoot;
}

const toObject = (type, message) =>
  type.toObject(message, { longs: String, enums: String, defaults: true });

// The AIP-193 details of a failed call's error: the google.rpc.Status the
// server sends in the grpc-status-details-bin trailer, as a plain object with
// its code and message and each detail under its type's name, e.g.
//   { code: 3, message: 'hero.secret_name is required',
//     errorInfo: { reason: 'REQUIRED_FIELD', domain: 'protomodel',
//                  metadata: { field: 'hero.secret_name' } },
//     badRequest: { field_violations: [{ field: 'hero.secret_name', description: ... }] } }
// errorInfo is always there; badRequest for INVALID_ARGUMENT, resourceInfo
// ({ resource_type, resource_name, ... }) for NOT_FOUND and ALREADY_EXISTS,
// retryInfo ({ retry_delay: { seconds, nanos } }) for UNAVAILABLE and
// RESOURCE_EXHAUSTED. Details of other types stay in `others`, as
// { type_url, value }. null when the error has no such trailer: one gRPC
// itself made (a deadline, an unreachable server, a token refused on TLS).
function errorDetails(error) {
  const [bin] = (error && error.metadata && error.metadata.get('grpc-status-details-bin')) || [];
  if (!bin) return null;
  const root = rpcTypes();
  const Status = root.lookupType('google.rpc.Status');
  const decoded = Status.decode(bin);
  const details = { code: decoded.code, message: decoded.message, others: [] };
  for (const any of decoded.details) {
    // type.googleapis.com/google.rpc.ErrorInfo: errorInfo
    const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    const type = name.startsWith('google.rpc.') ? root.lookup(name) : null;
    if (type instanceof protobuf.Type) {
      const key = type.name[0].toLowerCase() + type.name.slice(1);
      details[key] = toObject(type, type.decode(any.value));
    } else {
      details.others.push({ type_url: any.type_url, value: Buffer.from(any.value) });
    }
  }
  return details;
}

module.exports = {
  connect, connectTo, optionsFromEnv, call, newRequestId, errorDetails, status: grpc.status,
};
