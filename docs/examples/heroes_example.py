#!/usr/bin/python3
"""The built-in heroes from Python: a watch, create, list with a filter,
update with a mask, get, delete, what the watch saw, and one error code with
its details. Run `make
python-client` first; PROTOMODEL_* pick the server as for connect()
(client/python/example.py)."""
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "client", "python"))
import grpc  # noqa: E402
from example import connect, error_details  # noqa: E402  (puts the stubs on sys.path)
from google.protobuf import field_mask_pb2  # noqa: E402
from heroes.v1 import heroes_pb2, heroes_pb2_grpc  # noqa: E402
from protomodel.v1 import watch_pb2  # noqa: E402


def main():
    # A watch holds its stream for as long as it lasts: on a channel (and so a
    # connection) of its own, it never keeps other calls waiting.
    with connect() as channel, connect() as watch_channel:
        heroes = heroes_pb2_grpc.HeroServiceStub(channel)
        watch = heroes_pb2_grpc.HeroServiceStub(watch_channel).WatchHeroes(
            heroes_pb2.WatchHeroesRequest(filter='name = "Dead*"'))
        # SYNCED comes first: every change from here on will be sent.
        synced = next(watch)
        print("watching from", watch_pb2.ChangeType.Name(synced.type))

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
        # ADDED, MODIFIED, REMOVED; each event's resume_token restarts a
        # watch just after it (WatchHeroesRequest(resume_token=...)).
        for event in watch:
            if event.type == watch_pb2.CHANGE_TYPE_SYNCED:
                continue
            print("watched", watch_pb2.ChangeType.Name(event.type), event.hero.id, event.hero.name)
            if event.type == watch_pb2.CHANGE_TYPE_REMOVED:
                break
        watch.cancel()

        try:
            heroes.GetHero(heroes_pb2.GetHeroRequest(id=hero.id), timeout=10)
        except grpc.RpcError as error:
            print("after delete:", error.code().name, error.details())
            details = error_details(error)
            if details is not None:
                info = details["error_info"]
                print("  reason:", info.domain, info.reason)
                if "resource_info" in details:
                    resource = details["resource_info"]
                    print("  resource:", resource.resource_type, resource.resource_name)



if __name__ == "__main__":
    main()
