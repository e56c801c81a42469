'use strict';
// protomodel's services for Node.js, loaded from the same protos the server
// is built from. connect() returns one client per service, on one channel
// that retries UNAVAILABLE (and, for creates, the in-doubt UNKNOWN) and
// accepts the server's 64 MiB messages.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto');
// google/protobuf/descriptor.proto (for the mapping options) ships with
// Debian's libprotobuf-dev.
const INCLUDE_DIRS = [PROTO_DIR, '/usr/include'];

const SERVICES = {
  heroes: ['heroes.v1', ['HeroService', 'TeamService']],
  grimoire: ['grimoire.v1', ['UserService', 'ClassService', 'ConversationService']],
};

function load() {
  const definition = protoLoader.loadSync(
    ['heroes/v1/heroes.proto', 'grimoire/v1/grimoire.proto'],
    {
      includeDirs: INCLUDE_DIRS,
      keepCase: true, // field names as in the protos: secret_name, update_mask
      longs: String, // int64 ids as strings, like the JSON mapping
      enums: String,
      defaults: false,
      oneofs: true,
    });
  return grpc.loadPackageDefinition(definition);
}

const retryPolicy = (retryableStatusCodes) => ({
  maxAttempts: 5,
  initialBackoff: '0.05s',
  maxBackoff: '1s',
  backoffMultiplier: 2,
  retryableStatusCodes,
});

// Every method retries UNAVAILABLE (nothing was written); creates, which
// carry a request_id, also retry the in-doubt UNKNOWN.
const serviceConfig = {
  methodConfig: [{
    name: Object.values(SERVICES).flatMap(
      ([pkg, names]) => names.map((service) => ({ service: `${pkg}.${service}` }))),
    retryPolicy: retryPolicy(['UNAVAILABLE']),
  }, {
    name: Object.values(SERVICES).flatMap(
      ([pkg, names]) => names.map((service) => ({
        service: `${pkg}.${service}`,
        method: `Create${service.replace(/Service$/, '')}`,
      }))),
    retryPolicy: retryPolicy(['UNAVAILABLE', 'UNKNOWN']),
  }],
};

// options: { tls: bool, caFile, certFile, keyFile }
function connect(target, options = {}) {
  const proto = load();
  const credentials = options.tls
    ? grpc.credentials.createSsl(
      options.caFile ? fs.readFileSync(options.caFile) : null,
      options.keyFile ? fs.readFileSync(options.keyFile) : null,
      options.certFile ? fs.readFileSync(options.certFile) : null)
    : grpc.credentials.createInsecure();
  const channelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.service_config': JSON.stringify(serviceConfig),
  };
  const clients = {};
  for (const [key, [pkg, names]] of Object.entries(SERVICES)) {
    const namespace = pkg.split('.').reduce((node, part) => node[part], proto);
    clients[key] = {};
    for (const name of names) {
      clients[key][name] = new namespace[name](target, credentials, channelOptions);
    }
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

module.exports = { connect, call, newRequestId, status: grpc.status };
