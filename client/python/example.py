#!/usr/bin/python3
"""protomodel from Python: connect() gives a channel for the stubs of any
served proto, error_details() the AIP-193 details of a call's error. Run `make
python-client` first; docs/examples/ shows both on the built-in resources.

The environment picks the server and how to reach it, with the names the C++
client and the CLI read:
  PROTOMODEL_TARGET         host:port (default localhost:50051)
  PROTOMODEL_TOKEN             service token, sent on every call as
                               `authorization: Bearer <token>`
  PROTOMODEL_TLS               "1" or "true": TLS instead of plaintext
  PROTOMODEL_TLS_CA_FILE       PEM CA bundle verifying the server (default:
                               the system's roots)
  PROTOMODEL_CLIENT_CERT_FILE  with PROTOMODEL_CLIENT_KEY_FILE: a client
                               certificate, for a server that requires mTLS
A CA file or a client certificate also means TLS: the channel never falls
back to plaintext with them.

connect()'s channel serves the stubs of any proto, your own too (for a server
started with --descriptor_set): generate them beside the built-in ones, and
pass their descriptors so that their creates retry the in-doubt UNKNOWN too:
  client/python/generate.sh client/python/generated my_protos
  from library.v1 import library_pb2, library_pb2_grpc
  books = library_pb2_grpc.BookServiceStub(connect([library_pb2.DESCRIPTOR]))
  book = books.CreateBook(library_pb2.CreateBookRequest(
      book=library_pb2.Book(title="Dune"), request_id=str(uuid.uuid4())), timeout=10)
"""
import collections
import importlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated"))

import grpc  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

# Retry UNAVAILABLE (nothing was written, the contract promises) on every
# method, whatever its service: the empty name matches them all. Creates,
# which carry a request_id, also retry the in-doubt UNKNOWN: a name with
# service and method wins over the empty one. Accept the server's 64 MiB
# messages.
def _retry(codes):
    return {"maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "1s",
            "backoffMultiplier": 2, "retryableStatusCodes": codes}


def service_config(protos):
    """The channel's service config: UNAVAILABLE retried on every method,
    UNKNOWN too on the Create* methods of the services in `protos`, file
    descriptors (the DESCRIPTOR of generated _pb2 modules)."""
    creates = [{"service": service.full_name, "method": method.name}
               for proto in protos
               for service in proto.services_by_name.values()
               for method in service.methods
               if method.name.startswith("Create")]
    config = [{"name": [{}], "retryPolicy": _retry(["UNAVAILABLE"])}]
    if creates:
        config.append({"name": creates, "retryPolicy": _retry(["UNAVAILABLE", "UNKNOWN"])})
    return json.dumps({"methodConfig": config})


def _generated_protos():
    """The DESCRIPTOR of every proto whose stubs are in generated/ (the
    built-in ones, and yours when generate.sh put them there), but for the
    well-known types, google.rpc and protomodel's own options."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")
    found = []
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not name.endswith("_pb2.py"):
                continue
            module = os.path.relpath(os.path.join(folder, name[:-3]), root).replace(os.sep, ".")
            if module.split(".")[0] not in ("google", "protomodel", "grpc"):
                found.append(importlib.import_module(module).DESCRIPTOR)
    return tuple(found)


# The generated protos, whose creates connect() retries by default.
BUILTIN_PROTOS = _generated_protos()


def _options(protos):
    return [
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.service_config", service_config(protos)),
        # Each channel its own connection, so a channel kept for watches
        # (streams that last) never shares one with unary calls.
        ("grpc.use_local_subchannel_pool", 1),
    ]


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    pass


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call, unary or
    streaming (Watch...). An interceptor
    rather than grpc.access_token_call_credentials, which gRPC sends over TLS
    only: this also works in plaintext, for a server behind a mesh sidecar
    that terminates mTLS (--allow_plaintext_tokens)."""

    def __init__(self, token):
        self._header = ("authorization", "Bearer " + token)

    def _with_token(self, details):
        metadata = list(details.metadata or []) + [self._header]
        return _CallDetails(details.method, details.timeout, metadata, details.credentials,
                            details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


def _read(variable):
    """The content of the file the environment variable names, or None."""
    path = os.environ.get(variable)
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def connect(protos=BUILTIN_PROTOS):
    """A channel to the server the PROTOMODEL_* variables name (above), for
    stubs of any service. `protos`: the file descriptors whose Create*
    methods also retry UNKNOWN; for your own protos, their _pb2 modules'
    DESCRIPTOR, e.g. connect([library_pb2.DESCRIPTOR])."""
    target = os.environ.get("PROTOMODEL_TARGET", "localhost:50051")
    key, cert = _read("PROTOMODEL_CLIENT_KEY_FILE"), _read("PROTOMODEL_CLIENT_CERT_FILE")
    if (key is None) != (cert is None):
        raise ValueError(
            "PROTOMODEL_CLIENT_CERT_FILE and PROTOMODEL_CLIENT_KEY_FILE go together")
    ca = _read("PROTOMODEL_TLS_CA_FILE")
    if os.environ.get("PROTOMODEL_TLS") in ("1", "true") or ca is not None or cert is not None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca,  # None: system roots
            private_key=key, certificate_chain=cert)
        channel = grpc.secure_channel(target, credentials, options=_options(protos))
    else:
        channel = grpc.insecure_channel(target, options=_options(protos))
    token = os.environ.get("PROTOMODEL_TOKEN")
    return grpc.intercept_channel(channel, BearerToken(token)) if token else channel


# The details error_details() unpacks: key -> message type.
_DETAILS = {
    "error_info": error_details_pb2.ErrorInfo,
    "bad_request": error_details_pb2.BadRequest,
    "resource_info": error_details_pb2.ResourceInfo,
    "retry_info": error_details_pb2.RetryInfo,
}


def error_details(error):
    """The AIP-193 details of a grpc.RpcError: the google.rpc.Status the
    server sends in the `grpc-status-details-bin` trailer, as a dict with
    "status" (the Status itself: code, message, details as Any) and, for each
    detail it carries, "error_info" (ErrorInfo: domain "protomodel", reason,
    metadata["field"]), "bad_request" (BadRequest: field_violations),
    "resource_info" (ResourceInfo: resource_type, resource_name) and
    "retry_info" (RetryInfo: retry_delay). None when the error has no such
    trailer: one gRPC itself raised (a deadline, an unreachable server, a
    token or certificate refused before the call reached the service)."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            details = {"status": status}
            for detail in status.details:
                for name, message_type in _DETAILS.items():
                    if detail.Is(message_type.DESCRIPTOR):
                        details[name] = message_type()
                        detail.Unpack(details[name])
            return details
    return None
