#!/usr/bin/python3
"""Calls protomodel from Python: create, list with a filter, update with a
mask, get, delete, and one error code. Run `make python-client` first;
PROTOMODEL_TARGET picks the server (default localhost:50051)."""
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated"))

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
from heroes.v1 import heroes_pb2, heroes_pb2_grpc  # noqa: E402

# Retry UNAVAILABLE (nothing was written, the contract promises); creates,
# which carry a request_id, also retry the in-doubt UNKNOWN. Accept the
# server's 64 MiB messages.
def _retry(codes):
    return {"maxAttempts": 5, "initialBackoff": "0.05s", "maxBackoff": "1s",
            "backoffMultiplier": 2, "retryableStatusCodes": codes}


SERVICE_CONFIG = json.dumps({
    "methodConfig": [
        {"name": [{"service": "heroes.v1.HeroService"}, {"service": "heroes.v1.TeamService"}],
         "retryPolicy": _retry(["UNAVAILABLE"])},
        {"name": [{"service": "heroes.v1.HeroService", "method": "CreateHero"},
                  {"service": "heroes.v1.TeamService", "method": "CreateTeam"}],
         "retryPolicy": _retry(["UNAVAILABLE", "UNKNOWN"])},
    ]
})
OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.service_config", SERVICE_CONFIG),
]


def main():
    target = os.environ.get("PROTOMODEL_TARGET", "localhost:50051")
    with grpc.insecure_channel(target, options=OPTIONS) as channel:
        heroes = heroes_pb2_grpc.HeroServiceStub(channel)
        # A fresh request_id per logical create makes the retries safe.
        hero = heroes.CreateHero(heroes_pb2.CreateHeroRequest(
            hero=heroes_pb2.Hero(name="Deadpond", secret_name="Dive Wilson"),
            request_id=str(uuid.uuid4())), timeout=10)
        print("created", hero.id, hero.name)

        page = heroes.ListHeroes(heroes_pb2.ListHeroesRequest(filter='name = "Dead*"'), timeout=10)
        print("listed", [h.name for h in page.heroes])

        hero = heroes.UpdateHero(heroes_pb2.UpdateHeroRequest(
            hero=heroes_pb2.Hero(id=hero.id, age=30),
            update_mask=field_mask_pb2.FieldMask(paths=["age"])), timeout=10)
        print("updated age to", hero.age)

        got = heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10)
        print("got", got.name, got.age)

        heroes.DeleteHero(heroes_pb2.DeleteHeroRequest(id=hero.id), timeout=10)
        try:
            heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10)
        except grpc.RpcError as error:
            print("after delete:", error.code().name, error.details())


if __name__ == "__main__":
    main()
