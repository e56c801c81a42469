'use strict';
// Renders each kustomize overlay of deploy/k8s with `kubectl kustomize`,
// validates every object offline against the Kubernetes schemas
// (kubernetes-models; @kubernetes-models/prometheus-operator for the
// ServiceMonitor), and checks the facts that matter.
const test = require('node:test');
const assert = require('node:assert');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const tools = path.join(__dirname, 'tools', 'node_modules');
const YAML = require(path.join(tools, 'yaml'));
const models = {
  'v1/Namespace': () => require(path.join(tools, 'kubernetes-models/v1')).Namespace,
  'v1/ConfigMap': () => require(path.join(tools, 'kubernetes-models/v1')).ConfigMap,
  'v1/Secret': () => require(path.join(tools, 'kubernetes-models/v1')).Secret,
  'v1/Service': () => require(path.join(tools, 'kubernetes-models/v1')).Service,
  'apps/v1/Deployment': () => require(path.join(tools, 'kubernetes-models/apps/v1')).Deployment,
  'apps/v1/StatefulSet': () => require(path.join(tools, 'kubernetes-models/apps/v1')).StatefulSet,
  'batch/v1/Job': () => require(path.join(tools, 'kubernetes-models/batch/v1')).Job,
  'policy/v1/PodDisruptionBudget': () =>
    require(path.join(tools, 'kubernetes-models/policy/v1')).PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': () =>
    require(path.join(tools, 'kubernetes-models/autoscaling/v2')).HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': () =>
    require(path.join(tools, 'kubernetes-models/networking.k8s.io/v1')).NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': () =>
    require(path.join(tools, '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'))
      .ServiceMonitor,
};

function kubectl() {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function render(overlay) {
  const dir = path.join(__dirname, '..', 'deploy', 'k8s', 'overlays', overlay);
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  const objects = YAML.parseAllDocuments(out).map((doc) => doc.toJSON()).filter(Boolean);
  // kustomize folds long base64 values over lines; the API server's base64
  // decoder skips the newlines, the schema's "byte" format does not.
  for (const object of objects) {
    if (object.kind !== 'Secret' || !object.data) continue;
    for (const key of Object.keys(object.data)) {
      object.data[key] = object.data[key].replace(/\s+/g, '');
    }
  }
  return objects;
}

const find = (objects, kind, name) =>
  objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));

// The Secrets that hold the server's TLS files and its tokens file.
const TLS_SECRET = 'protomodel-tls';
const TOKENS_SECRET = 'protomodel-tokens';

// The server container's value for a flag: `--flag=` in args wins, then its
// environment variable from env, then from a ConfigMap in envFrom (the
// server's own order).
function setting(objects, flag) {
  const container = find(objects, 'Deployment', 'protomodel').spec.template.spec.containers[0];
  const arg = (container.args || []).find((a) => a.startsWith(`--${flag}=`));
  if (arg) return arg.slice(flag.length + 3);
  const env = `PROTOMODEL_${flag.toUpperCase()}`;
  const direct = (container.env || []).find((e) => e.name === env);
  if (direct) return direct.value;
  for (const source of container.envFrom || []) {
    if (!source.configMapRef) continue;
    const data = find(objects, 'ConfigMap', source.configMapRef.name).data || {};
    if (env in data) return data[env];
  }
  return undefined;
}

// The port of a host:port listen address.
const listenPort = (address) => Number(address.slice(address.lastIndexOf(':') + 1));

const podTemplates = (objects) => objects
  .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
  .map((o) => ({ name: `${o.kind} ${o.metadata.name}`, pod: o.spec.template.spec }));

// Every mount of a volume of `secret` in any pod: { where, mount }.
function secretMounts(objects, secret) {
  const found = [];
  for (const { name, pod } of podTemplates(objects)) {
    const volumes = (pod.volumes || [])
      .filter((v) => v.secret && v.secret.secretName === secret).map((v) => v.name);
    for (const container of [...(pod.containers || []), ...(pod.initContainers || [])]) {
      for (const mount of container.volumeMounts || []) {
        if (volumes.includes(mount.name)) found.push({ where: `${name}/${container.name}`, mount });
      }
    }
  }
  return found;
}

// Whether `labels` carries every one of `selector`'s matchLabels.
const selects = (selector, labels) => Object.keys(selector.matchLabels || {}).length > 0 &&
  Object.entries(selector.matchLabels).every(([k, v]) => (labels || {})[k] === v);

// The mount of `secret` that holds `file`, and the key `file` names in it.
function mountedFile(objects, secret, file) {
  for (const { mount } of secretMounts(objects, secret)) {
    const dir = mount.mountPath.replace(/\/$/, '');
    if (file.startsWith(`${dir}/`)) return { mount, key: file.slice(dir.length + 1) };
  }
  return undefined;
}

const skip = kubectl() ? false : 'kubectl is not installed: the manifests were not rendered';

for (const overlay of ['dev', 'prod']) {
  test(`${overlay}: every object is valid against the Kubernetes schemas`, { skip }, () => {
    const objects = render(overlay);
    assert.ok(objects.length >= 6);
    for (const object of objects) {
      const model = models[`${object.apiVersion}/${object.kind}`];
      assert.ok(model, `no schema for ${object.apiVersion} ${object.kind}`);
      const Model = model();
      assert.doesNotThrow(() => new Model(object).validate(),
        `${object.kind} ${object.metadata.name}`);
    }
  });

  test(`${overlay}: every namespace it uses, it creates first`, { skip }, () => {
    const objects = render(overlay);
    // Kinds without a namespace; every other object must name one, or
    // `kubectl apply -k` would put it wherever the caller's context points.
    const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding',
      'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'PriorityClass'];
    const created = objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name);
    const used = new Set();
    objects.forEach((object, index) => {
      const where = `${object.kind} ${object.metadata.name}`;
      if (clusterScoped.includes(object.kind)) {
        assert.strictEqual(object.metadata.namespace, undefined, where);
        return;
      }
      const namespace = object.metadata.namespace;
      assert.ok(namespace, `${where} names its namespace`);
      used.add(namespace);
      assert.ok(created.includes(namespace),
        `${where} is in namespace ${namespace}, which the overlay does not create`);
      const at = objects.findIndex((o) => o.kind === 'Namespace' && o.metadata.name === namespace);
      assert.ok(at < index, `Namespace ${namespace} comes before ${where}`);
    });
    // The ServiceMonitor, if any, looks for the Service where it is.
    for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor')) {
      for (const name of (monitor.spec.namespaceSelector || {}).matchNames || []) {
        assert.ok(created.includes(name), `ServiceMonitor ${monitor.metadata.name}: ${name}`);
      }
    }
    // And no Namespace that nothing uses.
    assert.deepStrictEqual([...used].sort(), [...created].sort());
  });

  test(`${overlay}: probes use the health service on the health port`, { skip }, () => {
    const objects = render(overlay);
    const deployment = find(objects, 'Deployment', 'protomodel');
    const container = deployment.spec.template.spec.containers[0];
    const port = container.ports.find((p) => p.name === 'health').containerPort;
    assert.notStrictEqual(port, container.ports.find((p) => p.name === 'grpc').containerPort);
    // The server listens for health where the container port says.
    assert.strictEqual(listenPort(setting(objects, 'health_listen')), port);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      assert.ok(container[probe] && container[probe].grpc, `${probe} is a gRPC probe`);
      assert.strictEqual(container[probe].grpc.port, port, `${probe} on the health port`);
    }
    assert.strictEqual(container.livenessProbe.grpc.service, 'liveness');
    assert.strictEqual(container.startupProbe.grpc.service, 'liveness');
    assert.strictEqual(container.readinessProbe.grpc.service, undefined);
    // The health port is not published on the Service.
    const service = find(objects, 'Service', 'protomodel');
    assert.ok(!service.spec.ports.some((p) => p.targetPort === 'health' || p.targetPort === port));
  });

  test(`${overlay}: metrics on a named port, annotated for scraping`, { skip }, () => {
    const objects = render(overlay);
    const template = find(objects, 'Deployment', 'protomodel').spec.template;
    const ports = template.spec.containers[0].ports;
    const metrics = ports.find((p) => p.name === 'metrics');
    assert.ok(metrics, 'container port "metrics"');
    assert.strictEqual(listenPort(setting(objects, 'metrics_listen')), metrics.containerPort);
    assert.strictEqual(new Set(ports.map((p) => p.containerPort)).size, ports.length);
    const annotations = template.metadata.annotations || {};
    assert.strictEqual(annotations['prometheus.io/scrape'], 'true');
    assert.strictEqual(annotations['prometheus.io/port'], String(metrics.containerPort));
    assert.strictEqual(annotations['prometheus.io/path'], '/metrics');
    const service = find(objects, 'Service', 'protomodel');
    const servicePort = service.spec.ports.find((p) => p.name === 'metrics');
    assert.ok(servicePort, 'Service port "metrics"');
    assert.ok([metrics.name, metrics.containerPort].includes(servicePort.targetPort));
  });

  test(`${overlay}: Secret volumes are whole directories, never subPath`, { skip }, () => {
    const objects = render(overlay);
    for (const { name, pod } of podTemplates(objects)) {
      const secrets = (pod.volumes || []).filter((v) => v.secret).map((v) => v.name);
      for (const container of pod.containers) {
        for (const mount of container.volumeMounts || []) {
          if (!secrets.includes(mount.name)) continue;
          assert.strictEqual(mount.subPath, undefined, `${name}: ${mount.mountPath}`);
          assert.strictEqual(mount.subPathExpr, undefined, `${name}: ${mount.mountPath}`);
          assert.strictEqual(mount.readOnly, true, `${name}: ${mount.mountPath}`);
        }
      }
    }
    for (const secret of [TLS_SECRET, TOKENS_SECRET]) {
      for (const { where, mount } of secretMounts(objects, secret)) {
        assert.strictEqual(mount.subPath, undefined, `${where}: ${secret}`);
        assert.strictEqual(mount.subPathExpr, undefined, `${where}: ${secret}`);
      }
    }
  });

  test(`${overlay}: the files the server is given are mounted`, { skip }, () => {
    const objects = render(overlay);
    const files = [
      ['tls_cert_file', TLS_SECRET, 'tls.crt'],
      ['tls_key_file', TLS_SECRET, 'tls.key'],
      ['tls_client_ca_file', TLS_SECRET, 'ca.crt'],
      ['auth_tokens_file', TOKENS_SECRET, 'tokens'],
    ];
    for (const [flag, secret, key] of files) {
      const file = setting(objects, flag);
      if (file === undefined || file === '') continue;
      const mounted = mountedFile(objects, secret, file);
      assert.ok(mounted, `--${flag}=${file} is in a mount of the Secret ${secret}`);
      assert.strictEqual(mounted.key, key, `--${flag}`);
    }
    // TLS is all or nothing: a certificate needs its key.
    assert.strictEqual(Boolean(setting(objects, 'tls_cert_file')),
      Boolean(setting(objects, 'tls_key_file')));
    // Tokens never travel in plaintext.
    if (setting(objects, 'auth_tokens_file')) {
      assert.ok(setting(objects, 'tls_cert_file') || setting(objects, 'allow_plaintext_tokens') === 'true');
    }
  });

  test(`${overlay}: the server runs as non-root on a read-only root`, { skip }, () => {
    const objects = render(overlay);
    for (const kind of ['Deployment', 'Job']) {
      const pod = find(objects, kind).spec.template.spec;
      assert.strictEqual(pod.securityContext.runAsNonRoot, true, kind);
      assert.ok(pod.securityContext.runAsUser > 0, kind);
      assert.strictEqual(pod.containers[0].securityContext.readOnlyRootFilesystem, true, kind);
      assert.strictEqual(pod.containers[0].securityContext.allowPrivilegeEscalation, false, kind);
    }
  });

  test(`${overlay}: the migration Job runs migrate; replicas do not migrate`, { skip }, () => {
    const objects = render(overlay);
    assert.deepStrictEqual(find(objects, 'Job').spec.template.spec.containers[0].args,
      ['migrate']);
    const config = find(objects, 'ConfigMap').data;
    assert.strictEqual(config.PROTOMODEL_MIGRATE, 'false');
  });

  test(`${overlay}: drain fits the grace period; pools fit the database`, { skip }, () => {
    const objects = render(overlay);
    const config = find(objects, 'ConfigMap').data;
    const pod = find(objects, 'Deployment').spec.template.spec;
    assert.ok(pod.terminationGracePeriodSeconds >
      Number(config.PROTOMODEL_SHUTDOWN_GRACE_SECONDS));
    const hpa = find(objects, 'HorizontalPodAutoscaler');
    // A replica's connections (the pipeline's, the pool's and health's one)
    // x max replicas < PostgreSQL's default max_connections (100).
    const perReplica = Number(config.PROTOMODEL_PIPELINE_CONNECTIONS) +
      Number(config.PROTOMODEL_POOL_SIZE) + 1;
    assert.ok(hpa.spec.maxReplicas * perReplica < 100);
    assert.ok(find(objects, 'Deployment').spec.replicas >= 2);
    const service = find(objects, 'Service', 'protomodel');
    assert.strictEqual(service.spec.ports[0].name, 'grpc');
    assert.strictEqual(service.spec.ports[0].appProtocol, 'grpc');
    assert.ok(Number(config.PROTOMODEL_MAX_CONNECTION_AGE_SECONDS) > 0);
  });
}

test('prod: the database URL comes from a Secret that is not inlined', { skip }, () => {
  const objects = render('prod');
  assert.strictEqual(find(objects, 'Secret'), undefined);
  const env = find(objects, 'Deployment').spec.template.spec.containers[0].env;
  const url = env.find((e) => e.name === 'DATABASE_URL');
  assert.strictEqual(url.valueFrom.secretKeyRef.name, 'protomodel-database');
  assert.ok(find(objects, 'Deployment').spec.replicas > 2);
});

test('prod: TLS with client certificates and bearer tokens', { skip }, () => {
  const objects = render('prod');
  assert.strictEqual(setting(objects, 'tls_cert_file'), '/etc/protomodel/tls/tls.crt');
  assert.strictEqual(setting(objects, 'tls_key_file'), '/etc/protomodel/tls/tls.key');
  assert.strictEqual(setting(objects, 'tls_client_ca_file'), '/etc/protomodel/tls/ca.crt');
  assert.strictEqual(setting(objects, 'auth_tokens_file'), '/etc/protomodel/tokens/tokens');
  assert.ok(Number(setting(objects, 'tls_reload_seconds') ?? 60) > 0);
  assert.notStrictEqual(setting(objects, 'allow_plaintext_tokens'), 'true');
  // Referenced, never inlined (the Secret check above), and mounted read-only.
  const pod = find(objects, 'Deployment', 'protomodel').spec.template.spec;
  for (const secret of [TLS_SECRET, TOKENS_SECRET]) {
    assert.ok(pod.volumes.some((v) => v.secret && v.secret.secretName === secret), secret);
    assert.ok(secretMounts(objects, secret).length > 0, `${secret} is mounted`);
  }
});

test('prod: a ServiceMonitor scrapes the Service\'s metrics port', { skip }, () => {
  const objects = render('prod');
  const monitor = find(objects, 'ServiceMonitor', 'protomodel');
  assert.ok(monitor);
  const service = find(objects, 'Service', 'protomodel');
  assert.ok(selects(monitor.spec.selector, service.metadata.labels),
    'the ServiceMonitor selects the Service by its labels');
  const namespace = monitor.spec.namespaceSelector;
  assert.ok(!namespace || namespace.any ||
    (namespace.matchNames || []).includes(service.metadata.namespace));
  assert.ok(monitor.spec.endpoints.length > 0);
  for (const endpoint of monitor.spec.endpoints) {
    assert.ok(service.spec.ports.some((p) => p.name === endpoint.port),
      `the Service has port "${endpoint.port}"`);
    assert.strictEqual(endpoint.path ?? '/metrics', '/metrics');
  }
  assert.ok(monitor.spec.endpoints.some((e) => e.port === 'metrics'));
});

test('prod: a NetworkPolicy admits labelled clients and monitoring only', { skip }, () => {
  const objects = render('prod');
  const policy = find(objects, 'NetworkPolicy', 'protomodel');
  assert.ok(policy);
  const template = find(objects, 'Deployment', 'protomodel').spec.template;
  assert.ok(selects(policy.spec.podSelector, template.metadata.labels),
    'the NetworkPolicy selects the server pods');
  assert.ok(policy.spec.policyTypes.includes('Ingress'));
  const ports = template.spec.containers[0].ports;
  const named = (p) => ports.find((c) => c.name === p.port || c.containerPort === p.port);
  // Each rule's ports, by container port name.
  const rules = policy.spec.ingress.map((rule) => ({
    from: rule.from,
    ports: (rule.ports || []).map((p) => {
      assert.ok(named(p), `the pod has port ${p.port}`);
      return named(p).name;
    }),
  }));
  // No rule admits every port.
  assert.ok(rules.every((r) => r.ports.length > 0));
  const admitting = (port) => rules.filter((r) => r.ports.includes(port));
  const namespaces = (rule) => (rule.from || []).map((peer) => {
    assert.ok(peer.namespaceSelector && !peer.ipBlock, 'peers are namespaces');
    return peer.namespaceSelector.matchLabels;
  });
  const grpc = admitting('grpc');
  assert.ok(grpc.length > 0);
  for (const rule of grpc) {
    assert.ok(rule.from && rule.from.length > 0, 'gRPC is not open to all');
    assert.deepStrictEqual(namespaces(rule), [{ 'protomodel.io/client': 'true' }]);
  }
  const metrics = admitting('metrics');
  assert.ok(metrics.length > 0);
  for (const rule of metrics) {
    assert.ok(rule.from && rule.from.length > 0, 'metrics are not open to all');
    assert.deepStrictEqual(namespaces(rule), [{ 'kubernetes.io/metadata.name': 'monitoring' }]);
  }
  // Only those two: kubelet's probes come from the node, which NetworkPolicy
  // always admits, so the health port needs no rule of its own.
  assert.deepStrictEqual(rules.map((r) => r.ports).flat().sort(), ['grpc', 'metrics']);
});

test('dev: a PostgreSQL StatefulSet with a volume claim and its Secret', { skip }, () => {
  const objects = render('dev');
  const postgres = find(objects, 'StatefulSet');
  assert.strictEqual(postgres.spec.replicas, 1);
  assert.strictEqual(postgres.spec.volumeClaimTemplates.length, 1);
  assert.ok(objects.some((o) => o.kind === 'Secret' && o.metadata.name.startsWith('protomodel-database')));
});

test('dev: plaintext without tokens; every Secret it uses is generated', { skip }, () => {
  const objects = render('dev');
  for (const flag of ['tls_cert_file', 'tls_key_file', 'tls_client_ca_file', 'auth_tokens_file']) {
    assert.ok(!setting(objects, flag), `--${flag} is not set`);
  }
  const secrets = objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name);
  for (const { name, pod } of podTemplates(objects)) {
    for (const volume of pod.volumes || []) {
      if (volume.secret) assert.ok(secrets.includes(volume.secret.secretName), name);
    }
    for (const container of pod.containers) {
      for (const env of container.env || []) {
        const ref = env.valueFrom && env.valueFrom.secretKeyRef;
        if (ref) assert.ok(secrets.includes(ref.name), `${name}: ${env.name}`);
      }
      for (const from of container.envFrom || []) {
        if (from.secretRef) assert.ok(secrets.includes(from.secretRef.name), name);
      }
    }
  }
  assert.strictEqual(find(objects, 'NetworkPolicy'), undefined);
});
